package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/testenv"
)

// The Go client over a network that loses answers and drops requests: every event it reports
// accepted or duplicate is stored exactly once, whether or not the caller gave it an id.
func TestClientRetriesAreSafe(t *testing.T) {
	t.Parallel()
	// Ingest alone: no consumer acknowledges, so no trimmer cuts what the oracle reads back.
	p := Start(t, nil, func(c *app.Config) { c.Roles = []string{"ingest"} })
	proxy := testenv.StartProxy(t, "pulse-http", strings.TrimPrefix(p.URL, "http://"))
	// Every other request goes out under a fault: its answer is lost (the server stored the
	// events), or the request itself is dropped (it did not).
	ft := &faultyTransport{proxy: proxy, next: http.DefaultTransport}
	c, err := api.New(api.Config{URL: "http://" + proxy.Addr, HTTPClient: &http.Client{Transport: ft},
		MaxAttempts: 1000, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const senders, batches, size = 4, 20, 10
	var mu sync.Mutex
	sent := map[string]bool{}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for b := range batches {
				evs := make([]api.Event, size)
				for i := range evs {
					evs[i] = api.Event{Type: "client_test", Subject: fmt.Sprintf("s%d", i%3)}
					if i%2 == 0 { // half with the caller's ids, half with the client's
						evs[i].ID = fmt.Sprintf("c%d-b%d-e%d", s, b, i)
					}
				}
				f := api.JSON
				if b%2 == 1 {
					f = api.NDJSON
				}
				a, err := c.SendBatch(ctx, evs, f)
				if err != nil || a.Accepted+a.Duplicates != size {
					t.Errorf("sender %d batch %d: %+v, %v", s, b, a, err)
					return
				}
				mu.Lock()
				for _, e := range evs {
					sent[e.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	stored := testenv.StoredEvents(t, p.Redis.Client(), p.Layout)
	if len(sent) != senders*batches*size {
		t.Fatalf("%d distinct ids sent, want %d", len(sent), senders*batches*size)
	}
	for id := range sent {
		if n := len(stored[id]); n != 1 {
			t.Errorf("event %s stored %d times, want once", id, n)
		}
	}
	for id := range stored {
		if !sent[id] {
			t.Errorf("event %s stored, never reported sent", id)
		}
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.failed < senders*batches/2 {
		t.Errorf("only %d of %d requests failed: the faults did not bite", ft.failed, ft.n)
	}
	t.Logf("%d requests, %d failed under %v", ft.n, ft.failed, proxy.Injected())
}

// faultyTransport sends every other request with a fault on the proxy, removed once the
// request is done: LoseReplies and ResetPeer in turn.
type faultyTransport struct {
	proxy *testenv.Proxy
	next  http.RoundTripper

	mu        sync.Mutex
	n, failed int
}

func (f *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if n%2 == 1 {
		fault := testenv.LoseReplies(1)
		if n%4 == 3 {
			fault = testenv.ResetPeer(1)
		}
		defer f.proxy.Inject(fault)()
	}
	res, err := f.next.RoundTrip(req)
	if err != nil {
		f.mu.Lock()
		f.failed++
		f.mu.Unlock()
	}
	return res, err
}
