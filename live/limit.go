package live

import (
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// connRetry is the Retry-After of a refused connection: long enough not to be hammered by a
// reconnect loop, short enough for a client to get in once a slot frees.
const connRetry = 5 * time.Second

// errShuttingDown refuses a connection to a hub that is closing: another process takes it.
var errShuttingDown = events.Unavailable("shutting_down", "this server is shutting down; reconnect", time.Second)

// admit checks the Origin, that the hub still takes clients and that the connection caps leave
// room; it answers when not. release frees the connection's slot: call it when the handler is
// done (the connection is gone).
func (h *Hub) admit(c *gin.Context) (release func(), ok bool) {
	// Checking here first gives browsers the JSON 403 of every other endpoint; websocket.Accept
	// checks again with the same rules.
	if err := h.origins.Check(c.Request); err != nil {
		httpapi.Abort(c, events.Errorf(events.KindForbidden, "origin_not_allowed", "%v", err))
		return nil, false
	}
	if h.isClosing() {
		httpapi.Abort(c, errShuttingDown)
		return nil, false
	}
	release, reason, err := h.conns.acquire(c.ClientIP())
	if err != nil {
		h.m.refused.WithLabelValues(reason).Inc()
		httpapi.Abort(c, err)
		return nil, false
	}
	return release, true
}

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
func (l *connLimit) acquire(addr string) (release func(), reason string, err *events.Error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total > 0 && l.n >= l.total {
		return nil, "server_full", events.Unavailable("server_full",
			"this server holds its maximum of live connections; retry later", connRetry)
	}
	if l.perAddr > 0 && l.byAddr[addr] >= l.perAddr {
		e := events.Errorf(events.KindTooMany, "too_many_connections",
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
