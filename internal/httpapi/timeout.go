package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
)

// Deadlines is middleware that bounds one request on its connection, from the end of its
// headers: its body must arrive within body (else the read fails with a 408 body_timeout Error,
// which handlers pass to Abort), and its answer must be written within write, plus body when
// the request has one (so that there is always time left to answer, the 408 included).
// http.Server's ReadTimeout and WriteTimeout cannot do this: they bound every request of the
// server, and WebSockets and event streams last as long as their clients stay (routes that
// stream opt out with Streaming). Zero durations leave that side unbounded.
func Deadlines(body, write time.Duration) gin.HandlerFunc {
	timedOut := events.Errorf(events.KindTimeout, "body_timeout", "the request body did not arrive within %s", body)
	return func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		r := c.Request
		hasBody := body > 0 && r.Body != nil && r.Body != http.NoBody
		if write > 0 {
			d := write
			if hasBody {
				d += body
			}
			// Also replaces the deadline an earlier request on this keep-alive connection left.
			_ = rc.SetWriteDeadline(time.Now().Add(d))
		}
		if hasBody {
			if err := rc.SetReadDeadline(time.Now().Add(body)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, w: c.Writer, timedOut: timedOut}
			}
		}
	}
}

// Streaming is route middleware for answers that last as long as the client stays (Server-Sent
// Events, WebSockets): it lifts the write deadline Deadlines set, the stream bounds each of its
// writes itself. (A hijacked connection loses its deadlines anyway: net/http clears them, and
// coder/websocket times its reads and writes with contexts, never with conn deadlines.)
func Streaming(c *gin.Context) {
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
}

// deadlineBody turns the body's deadline error into the client-visible 408. Once the body is
// in, net/http clears the read deadline itself before it watches the connection for the client
// going away, so a handler may work on past the deadline (TestDeadlinesBodyInTime).
type deadlineBody struct {
	io.ReadCloser
	w        http.ResponseWriter
	timedOut *events.Error
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection cannot be read any more: say so, then let the server close it.
		b.w.Header().Set("Connection", "close")
		return n, b.timedOut
	}
	return n, err
}

// BodyTimeout is the client-visible error of a failed body read: the 408 of Deadlines when the
// body did not arrive in time, else nil (the caller answers with its own error).
func BodyTimeout(err error) *events.Error {
	var e *events.Error
	if errors.As(err, &e) && e.Code == "body_timeout" {
		return e
	}
	return nil
}
