package live

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/httpapi"
)

// ServeSSE is GET /v1/live/sse?type=T&subject=S… (or &top=1m&limit=10, optional &id=, &watch=1): one
// subscription as Server-Sent Events, each event's data one frame of the WebSocket protocol.
func (h *Hub) ServeSSE(c *gin.Context) {
	release, ok := h.admit(c)
	if !ok {
		return
	}
	defer release()
	q := c.Request.URL.Query()
	r := request{Op: opSubscribe, ID: q.Get("id"), Type: q.Get("type"), Subjects: q["subject"], Watch: q.Get("watch") == "1"}
	if r.ID == "" {
		r.ID = "sse"
	}
	if q.Has("top") || q.Has("limit") {
		r.Top = &topRequest{Window: q.Get("top"), Limit: 10}
		if l := q.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil {
				httpapi.Abort(c, httpapi.BadParam("limit", "limit must be an integer"))
				return
			}
			r.Top.Limit = n
		}
	}
	s, e := h.parseSpec(&r)
	if e != nil {
		httpapi.Abort(c, e)
		return
	}
	cl := h.newClient("sse")
	if !h.register(cl) {
		httpapi.Abort(c, errShuttingDown)
		return
	}
	defer h.unregister(cl)
	if e := cl.subscribe(s); e != nil {
		httpapi.Abort(c, e)
		return
	}

	w := c.Writer
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	sse := &sseSink{w: w, rc: http.NewResponseController(w), timeout: h.cfg.SlowTimeout}
	// EventSource reconnects by itself; ask it to wait a second, then start.
	if err := sse.write([]byte("retry: 1000\n\n")); err != nil {
		return
	}
	cl.run(c.Request.Context(), sse)
}

// sseSink writes frames as "data:" events.
type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *sseSink) send(_ context.Context, frame []byte) error {
	b := make([]byte, 0, len(frame)+8)
	b = append(b, "data: "...)
	b = append(b, frame...)
	return s.write(append(b, "\n\n"...))
}

// keepalive writes a comment line: it keeps proxies from closing an idle stream, and a client
// that stopped reading shows up as a write that times out.
func (s *sseSink) keepalive() error { return s.write([]byte(": ping\n\n")) }

// close ends nothing by itself: returning from the handler ends the response.
func (s *sseSink) close(websocket.StatusCode, string) {}

func (s *sseSink) write(b []byte) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	_, err := s.w.Write(b)
	if err == nil {
		err = s.rc.Flush()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errTooSlow
	}
	return err
}
