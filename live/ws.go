package live

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// ServeWS is GET /v1/live: the WebSocket protocol of docs/live.md.
func (h *Hub) ServeWS(c *gin.Context) {
	release, ok := h.admit(c)
	if !ok {
		return
	}
	defer release()
	if !isUpgrade(c.Request) {
		c.Header("Upgrade", "websocket")
		httpapi.Abort(c, events.Errorf(events.KindUpgradeRequired, "upgrade_required",
			"this is a WebSocket endpoint (or use GET /v1/live/sse for Server-Sent Events)"))
		return
	}
	// The Origin was checked above with the same rules; Accept checks it again.
	conn, err := websocket.Accept(c.Writer, c.Request, &websocket.AcceptOptions{OriginPatterns: h.cfg.AllowedOrigins})
	if err != nil {
		h.log.Debug("live: websocket accept", "err", err)
		return // Accept answered the request
	}
	h.serveConn(conn)
}

func isUpgrade(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && headerHas(r.Header, "Upgrade", "websocket")
}

func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveConn runs one WebSocket: this goroutine reads client frames, a writer goroutine sends.
func (h *Hub) serveConn(conn *websocket.Conn) {
	defer conn.CloseNow()
	conn.SetReadLimit(h.cfg.ReadLimit)
	cl := h.newClient("ws")
	if !h.register(cl) {
		_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer h.unregister(cl)
	ws := &wsSink{conn: conn, c: cl}
	cl.abortWrite = conn.CloseNow
	var writer sync.WaitGroup
	// Neither goroutine uses a request context: cancelling one would drop the connection
	// without a close frame. The connection ends through stop, or when the peer goes.
	writer.Go(func() { cl.run(context.Background(), ws) })
	for {
		typ, data, err := conn.Read(context.Background())
		if err != nil {
			break
		}
		cl.handle(typ, data)
	}
	cl.stop(websocket.StatusNormalClosure, "", nil)
	writer.Wait()
	ws.pings.Wait()
}

// handle answers one client frame.
func (c *client) handle(typ websocket.MessageType, data []byte) {
	if c.isStopped() {
		return // closing: frames during the close handshake are ignored
	}
	if typ != websocket.MessageText {
		c.reject("", perr("bad_frame", "frames are JSON text"))
		return
	}
	var r request
	if err := json.Unmarshal(data, &r); err != nil {
		c.reject("", perr("bad_frame", "frame is not a JSON object: %v", err))
		return
	}
	id := r.ID
	if !events.ValidID(id) {
		id = "" // not echoed back
	}
	var e *events.Error
	switch r.Op {
	case opSubscribe:
		var s spec
		if s, e = c.h.parseSpec(&r); e == nil {
			e = c.subscribe(s)
		}
	case opUnsubscribe:
		e = c.unsubscribe(r.ID)
	default:
		e = perr("unknown_op", "op must be subscribe or unsubscribe")
	}
	if e != nil {
		c.reject(id, e)
	}
}

func (c *client) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// wsSink writes frames to a WebSocket.
type wsSink struct {
	conn    *websocket.Conn
	c       *client
	pinging atomic.Bool
	pings   sync.WaitGroup
}

// send writes one frame. Its time limit is the hub's write watchdog, not a context: a context
// with a timeout costs a timer and a callback registration per frame, an eighth of the live
// process's CPU at 50,000 frames/s (pprof).
func (w *wsSink) send(ctx context.Context, frame []byte) error {
	w.c.writing.Store(time.Now().UnixNano())
	err := w.conn.Write(ctx, websocket.MessageText, frame)
	w.c.writing.Store(0)
	if err != nil && w.c.writeExpired.Load() {
		return errTooSlow
	}
	return err
}

// keepalive pings in the background; the pong is read by the handler's reader. A client that
// does not answer within SlowTimeout is not reading what it is sent either.
func (w *wsSink) keepalive() error {
	if !w.pinging.CompareAndSwap(false, true) {
		return nil // the previous ping's timeout decides
	}
	w.pings.Go(func() {
		defer w.pinging.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), w.c.h.cfg.SlowTimeout)
		defer cancel()
		if err := w.conn.Ping(ctx); errors.Is(err, context.DeadlineExceeded) {
			w.c.fail(errTooSlow)
		}
	})
	return nil
}

func (w *wsSink) close(code websocket.StatusCode, reason string) {
	_ = w.conn.Close(code, reason)
}
