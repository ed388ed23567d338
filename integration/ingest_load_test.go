package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/testenv"
)

type ingestEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Subject string `json:"subject"`
}

// TestIngestConcurrentClients: 10,000 events from 50 concurrent clients (25 sending single
// events, 25 sending batches of 100), 5% of them reusing an id the same client sent before.
// Every distinct id is stored exactly once and every reuse is answered "duplicate".
func TestIngestConcurrentClients(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) { c.Roles = []string{"ingest"} })
	const clients, perSingle, perBatchClient, batch = 50, 100, 300, 100
	var mu sync.Mutex
	statuses := map[string]int{} // "accepted", "duplicate"…
	var distinct atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		single := c < clients/2
		n := perBatchClient
		if single {
			n = perSingle
		}
		evs := make([]ingestEvent, n)
		reuse := make([]bool, n)
		for i := range evs {
			if i%20 == 19 { // 5%: the event sent 10 places earlier, again
				evs[i], reuse[i] = evs[i-10], true
				continue
			}
			typ := "video_liked"
			if i%3 == 0 {
				typ = "video_viewed"
			}
			evs[i] = ingestEvent{ID: fmt.Sprintf("c%d-%d", c, i), Type: typ, Subject: fmt.Sprintf("video-%d", (c*7+i)%60)}
			distinct.Add(1)
		}
		wg.Go(func() {
			size := batch
			if single {
				size = 1
			}
			for start := 0; start < n; start += size {
				var body []byte
				if single {
					body, _ = json.Marshal(evs[start])
				} else {
					body, _ = json.Marshal(evs[start : start+size])
				}
				a, err := ingestTry(p.URL+"/v1/events", "application/json", body)
				if err != nil || (a.Status != 202 && a.Status != 200) || len(a.Results) != size {
					t.Errorf("client %d: %v %d %+v", c, err, a.Status, a.Error)
					return
				}
				mu.Lock()
				for i, r := range a.Results {
					statuses[r.Status]++
					if want := map[bool]string{false: "accepted", true: "duplicate"}[reuse[start+i]]; r.Status != want || r.ID != evs[start+i].ID {
						t.Errorf("client %d event %d (%s): %s, want %s", c, start+i, evs[start+i].ID, r.Status, want)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got := testenv.StoredEvents(t, p.Redis.Client(), p.Layout)
	total := 0
	for id, copies := range got {
		if len(copies) != 1 {
			t.Errorf("%s stored %d times", id, len(copies))
		}
		total += len(copies)
	}
	if int64(len(got)) != distinct.Load() || total != 9500 {
		t.Errorf("stored %d distinct ids in %d entries, want %d", len(got), total, distinct.Load())
	}
	if statuses["accepted"] != 9500 || statuses["duplicate"] != 500 {
		t.Errorf("answers %v, want 9500 accepted and 500 duplicate", statuses)
	}
}

// TestIngestGracefulShutdown stops the app while clients are sending: every event answered
// 202 is in Redis afterwards.
func TestIngestGracefulShutdown(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) { c.Roles = []string{"ingest"} })
	var mu sync.Mutex
	var acked []string
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Go(func() {
			for r := 0; r < 100_000; r++ { // bounded; the stop ends it long before
				evs := make([]ingestEvent, 10)
				for i := range evs {
					evs[i] = ingestEvent{ID: fmt.Sprintf("g%d-%d-%d", c, r, i), Type: "video_liked", Subject: fmt.Sprintf("v%d", i)}
				}
				body, _ := json.Marshal(evs)
				a, err := ingestTry(p.URL+"/v1/events", "application/json", body)
				if err != nil {
					return // the server is gone
				}
				if a.Status != http.StatusAccepted {
					continue // e.g. 503 while stopping: not acknowledged, nothing promised
				}
				mu.Lock()
				for _, r := range a.Results {
					acked = append(acked, r.ID)
				}
				if len(acked) >= 3000 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	<-enough
	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	wg.Wait()
	got := testenv.StoredEvents(t, p.Redis.Client(), p.Layout)
	for _, id := range acked {
		if len(got[id]) != 1 {
			t.Errorf("acked %s stored %d times", id, len(got[id]))
		}
	}
	t.Logf("%d events acked while the app ran and stopped; %d stored", len(acked), len(got))
}
