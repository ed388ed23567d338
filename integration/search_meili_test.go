package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/search"
	"github.com/pulsehq/pulse/internal/testenv"
)

// TestSearchMeilisearchOutage runs the indexer against Meilisearch (Docker only) through a
// proxy the test can cut: while Meilisearch is unreachable ingest goes on, entries stay
// pending past the claim idle time and nothing is dead-lettered; once it is back every event
// is searchable exactly once. The embedded engine's outage is tested in consumers/indexer
// through searchtest.Faulty.
func TestSearchMeilisearchOutage(t *testing.T) {
	t.Parallel()
	url, key := testenv.StartMeili(t)
	proxy := newCutProxy(t, strings.TrimPrefix(url, "http://"))
	p := Start(t, nil, func(c *app.Config) {
		c.Meili.URL, c.Meili.Key = proxy.URL, key
		c.Partitions = 4
		c.Consumers.ClaimIdle, c.Consumers.MaxDeliveries = 500*time.Millisecond, 2
		c.BrowserKeys, c.APIKeys = []string{searchBrowserKey}, []string{"full"}
	})
	post := func(from, n int) {
		var b strings.Builder
		b.WriteByte('[')
		for i := from; i < from+n; i++ {
			if i > from {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":"m.%d","type":"video_liked","subject":"video-%d","data":{"w":"word%d"}}`, i, i%7, i%3)
		}
		b.WriteByte(']')
		if code := postEvents(t, p, b.String()); code != http.StatusAccepted {
			t.Fatalf("post: %d", code)
		}
	}
	var res search.Response
	post(0, 100)
	testenv.WaitFor(t, 30*time.Second, "100 events in Meilisearch", func() bool {
		return searchGet(t, p, "/v1/search?limit=0", &res) == http.StatusOK && res.Total == 100
	})

	proxy.SetDown(true)
	post(100, 100) // ingest does not depend on the search engine
	rdb := p.Redis.Client()
	down := time.Now()
	testenv.WaitFor(t, 30*time.Second, "entries pending past the claim idle time", func() bool {
		var pending int64
		for part := range 4 {
			if x, err := rdb.XPending(context.Background(), p.Layout.Stream(part), events.GroupIndexer).Result(); err == nil {
				pending += x.Count
			}
		}
		return pending > 0 && time.Since(down) > 4*p.Config.Consumers.ClaimIdle
	})
	if n, _ := rdb.XLen(context.Background(), events.FailedStream).Result(); n != 0 {
		t.Fatalf("%d entries dead-lettered during the outage", n)
	}
	if code := searchGet(t, p, "/v1/search", &res); code != http.StatusServiceUnavailable {
		t.Fatalf("search while Meilisearch is unreachable: %d, want 503", code)
	}

	proxy.SetDown(false)
	testenv.WaitFor(t, 60*time.Second, "all 200 events searchable", func() bool {
		return searchGet(t, p, "/v1/search?limit=0", &res) == http.StatusOK && res.Total == 200
	})
	seen := map[string]int{}
	for off := 0; off < 200; off += 100 {
		searchGet(t, p, fmt.Sprintf("/v1/search?limit=100&offset=%d&sort=time:asc", off), &res)
		for _, h := range res.Hits {
			seen[h.ID]++
		}
	}
	for i := range 200 {
		if id := fmt.Sprintf("m.%d", i); seen[id] != 1 {
			t.Fatalf("%s found %d times, want once", id, seen[id])
		}
	}
}

// cutProxy forwards TCP connections to target until it is cut: then it drops every open
// connection and refuses new ones, as a crashed server would.
type cutProxy struct {
	URL    string
	target string
	ln     net.Listener
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{URL: "http://" + ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.accept()
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		p.SetDown(true)
	})
	return p
}

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil || !p.track(c, up) {
			_ = c.Close()
			if up != nil {
				_ = up.Close()
			}
			continue
		}
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *cutProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// SetDown cuts (true) or restores (false) the connection to the target.
func (p *cutProxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
}
