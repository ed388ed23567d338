package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"

	"github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/integration"
	"github.com/pulsehq/pulse/internal/testenv"
)

// pulseURL is the Pulse (with a private Redis) that the examples talk to.
var pulseURL string

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, func(t testing.TB) {
		pulseURL = integration.Start(t, nil, nil).URL
	}))
}

// Send events, read their counts, and follow them live.
func Example() {
	ctx := context.Background()
	c, err := client.New(client.Config{URL: pulseURL}) // e.g. "http://localhost:8080"
	if err != nil {
		log.Fatal(err)
	}

	// Follow two videos' likes: the first frame is a snapshot.
	sub, err := c.Subscribe(ctx, "video_liked", "video-1", "video-2")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	first, _ := sub.Next(ctx)
	fmt.Println(first.Op, sub.Counts()["video-1"]["1m"])

	// Each event gets an id before it is sent: retries after a lost answer count it once.
	likes := []client.Event{
		{Type: "video_liked", Subject: "video-1"},
		{Type: "video_liked", Subject: "video-1"},
		{Type: "video_liked", Subject: "video-2"},
	}
	answer, err := c.SendBatch(ctx, likes, client.JSON)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted", answer.Accepted)

	// Updates arrive as the counter applies the events.
	for sub.Counts()["video-1"]["1m"] != 2 || sub.Counts()["video-2"]["1m"] != 1 {
		if _, err := sub.Next(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("live", sub.Counts()["video-1"]["1m"], sub.Counts()["video-2"]["1m"])

	w, err := c.Windows(ctx, "video_liked", "video-1", "video-2")
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range w.Counts {
		fmt.Println(row.Subject, row.Counts["1m"], row.Counts["10m"])
	}

	top, err := c.Top(ctx, "video_liked", "1m", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("top", top.Entries[0].Subject)

	// Sending the same events again (they kept their ids) stores nothing new.
	again, _ := c.SendBatch(ctx, likes, client.NDJSON)
	fmt.Println("duplicates", again.Duplicates)
	// Output:
	// snapshot 0
	// accepted 3
	// live 2 1
	// video-1 2 2
	// video-2 1 1
	// top video-1
	// duplicates 3
}
