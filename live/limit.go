package live

import (
	"net/http"
	"sync"
	"time"

	"github.com/pulsehq/pulse/internal/httpapi"
)

// connRetry is the Retry-After of a refused connection: long enough not to be hammered by a
// reconnect loop, short enough for a client to get in once a slot frees.
const connRetry = 5 * time.Second

// connLimit caps the live connections (WebSocket and SSE together) of a process, and of one
// client address. Every open connection costs a goroutine or two, buffers and a file
// descriptor; without a cap one client could hold them all.
type connLimit struct {
	total, perAddr int // 0: no cap

	mu     sync.Mutex
	n      int
	byAddr map[string]int
}

func newConnLimit(total, perAddr int) *connLimit {
	return &connLimit{total: total, perAddr: perAddr, byAddr: make(map[string]int)}
}

// acquire takes a slot for a connection from addr; release gives it back (once). It refuses
// with 503 server_full when the process holds total connections, which another instance behind
// the load balancer may take, and with 429 too_many_connections when addr holds perAddr.
func (l *connLimit) acquire(addr string) (release func(), reason string, err *httpapi.Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total > 0 && l.n >= l.total {
		return nil, "server_full", httpapi.Unavailable("server_full",
			"this server holds its maximum of live connections; retry later", connRetry)
	}
	if l.perAddr > 0 && l.byAddr[addr] >= l.perAddr {
		e := httpapi.Errorf(http.StatusTooManyRequests, "too_many_connections",
			"too many live connections from your address (at most %d); close one, or retry later", l.perAddr)
		e.RetryAfter = connRetry
		return nil, "too_many_connections", e
	}
	l.n++
	l.byAddr[addr]++
	var once sync.Once
	return func() { once.Do(func() { l.release(addr) }) }, "", nil
}

func (l *connLimit) release(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr) // the map holds only addresses with open connections
	}
}
