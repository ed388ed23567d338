package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxy is an in-process TCP proxy (toxiproxy, embedded as a library) between clients and one
// upstream, into which a test injects network faults.
//
// How toxiproxy applies a fault decides what a test can expect:
//   - Toxicity is drawn per connection: for the connections already open when the fault is
//     injected, and for each connection opened while it is active. A connection that drew
//     "no" stays clean, except that injecting or removing another fault in the same direction
//     draws again for the fault injected just before it.
//   - A fault hits a connection opened while it is active from its first byte, which for
//     go-redis is the HELLO handshake: the dial fails and none of its commands reach Redis.
//     On connections already open it hits the next command. go-redis keeps pipelines on a
//     separate pool of connections (PipelinePoolSize).
type Proxy struct {
	Addr     string // 127.0.0.1:port that clients dial; kept by ResetConnections
	Upstream string

	t        testing.TB
	proxy    *toxiproxy.Proxy
	seq      atomic.Int64
	mu       sync.Mutex
	injected map[string]int
}

// StartProxy starts a proxy named name (in error messages) to upstream on a free loopback port, stopped
// at cleanup. It dials upstream only when a client connects.
//
// The port is below the kernel's ephemeral range: ResetConnections frees it for a moment, and
// a port of that range could meanwhile become the local port of any test's outgoing
// connection, which would keep the proxy from listening again.
func StartProxy(t testing.TB, name, upstream string) *Proxy {
	t.Helper()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	low := ephemeralLow()
	var err error
	for range 100 { // another test may hold the port drawn
		port := 10_000 + rand.IntN(low-10_000)
		tp := toxiproxy.NewProxy(server, name, fmt.Sprintf("127.0.0.1:%d", port), upstream)
		if err = tp.Start(); err == nil {
			t.Cleanup(tp.Stop)
			return &Proxy{Addr: tp.Listen, Upstream: upstream, t: t, proxy: tp, injected: map[string]int{}}
		}
	}
	t.Fatalf("testenv: proxy %s: %v", name, err)
	return nil
}

// ephemeralLow is the first port the kernel hands out to outgoing connections (Linux), or the
// IANA range's start where that cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 49152
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 49152
	}
	if n, err := strconv.Atoi(f[0]); err == nil && n > 11_000 {
		return n
	}
	return 49152
}

// Fault is one toxiproxy toxic. DelayReplies, LoseReplies, CutRequests and ResetPeer build the
// faults a Redis client meets; other toxics (timeout, bandwidth, slicer, slow_close) can be
// written out by hand with the attributes of toxiproxy's HTTP API.
type Fault struct {
	Kind       string         // counted by Injected, and prefixes the toxic's unique name
	Type       string         // toxiproxy toxic type
	Stream     string         // "upstream" (client → Redis) or "downstream" (Redis → client)
	Toxicity   float32        // chance in (0, 1] that a connection is affected (see Proxy)
	Attributes map[string]any // the toxic's attributes
}

// DelayReplies delays what Redis sends by d: a command is applied at once, and a client
// whose read timeout is shorter than d sees a timeout for a command that took effect.
// Removing the fault delivers the replies it holds at once.
func DelayReplies(d time.Duration, toxicity float32) Fault {
	return Fault{Kind: "delay_replies", Type: "latency", Stream: "downstream", Toxicity: toxicity,
		Attributes: map[string]any{"latency": d.Milliseconds()}}
}

// LoseReplies closes the connection when Redis's next reply reaches the proxy, dropping it:
// the command ran, the client sees an error (EOF). Pipelined replies may arrive in one read
// and are lost together.
func LoseReplies(toxicity float32) Fault {
	return Fault{Kind: "lose_replies", Type: "limit_data", Stream: "downstream", Toxicity: toxicity,
		Attributes: map[string]any{"bytes": 0}}
}

// CutRequests forwards only the next n bytes a client sends, then closes the connection:
// Redis runs the complete commands in that prefix of a pipeline and drops the partial one.
// On a connection opened while the fault is active, the handshake counts in the n bytes.
func CutRequests(n int, toxicity float32) Fault {
	return Fault{Kind: "cut_requests", Type: "limit_data", Stream: "upstream", Toxicity: toxicity,
		Attributes: map[string]any{"bytes": n}}
}

// ResetPeer drops the next request a client sends and closes the connection: Redis never sees
// the command. The close is a TCP reset (linger 0) on connections opened while the fault is
// active, and a plain close (EOF) on connections that were already open.
func ResetPeer(toxicity float32) Fault {
	return Fault{Kind: "reset_peer", Type: "reset_peer", Stream: "upstream", Toxicity: toxicity,
		Attributes: map[string]any{"timeout": 0}}
}

// Inject adds f until remove is called (removing twice is harmless); faults overlap freely.
// It may be called from any goroutine: a bad fault fails the test with Errorf.
func (p *Proxy) Inject(f Fault) (remove func()) {
	if f.Toxicity <= 0 || f.Toxicity > 1 {
		p.t.Errorf("testenv: fault %s: toxicity %v is not in (0, 1]", f.Kind, f.Toxicity)
		return func() {}
	}
	name := fmt.Sprintf("%s-%d", f.Kind, p.seq.Add(1))
	body, err := json.Marshal(map[string]any{"name": name, "type": f.Type, "stream": f.Stream,
		"toxicity": f.Toxicity, "attributes": f.Attributes})
	if err == nil {
		_, err = p.proxy.Toxics.AddToxicJson(bytes.NewReader(body))
	}
	if err != nil {
		p.t.Errorf("testenv: inject %s into proxy %s: %v", name, p.proxy.Name, err)
		return func() {}
	}
	p.mu.Lock()
	p.injected[f.Kind]++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			err := p.proxy.Toxics.RemoveToxic(context.Background(), name)
			if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
				p.t.Errorf("testenv: remove %s: %v", name, err)
			}
		})
	}
}

// Injected counts the faults injected so far, by Kind, for a test's report.
func (p *Proxy) Injected() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.injected)
}

// ResetConnections closes every connection through the proxy, both sides, as a network blip
// would, and listens again on the same address at once; active faults stay.
func (p *Proxy) ResetConnections() {
	p.proxy.Stop()
	if err := p.proxy.Start(); err != nil {
		p.t.Errorf("testenv: restart proxy %s on %s: %v", p.proxy.Name, p.Addr, err)
	}
}
