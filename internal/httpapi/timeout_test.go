package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// safety bounds every wait of these tests, so that a regression fails instead of hanging. It is
// far longer than any timeout configured here: no test asserts how long something took.
const safety = 10 * time.Second

// deadlineServer serves an engine with Deadlines(body, write) and routes that read a body.
func deadlineServer(t *testing.T, body, write time.Duration, routes func(r *gin.Engine)) *httptest.Server {
	t.Helper()
	r := Engine(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Use(Deadlines(body, write))
	r.POST("/read", func(c *gin.Context) {
		b, err := io.ReadAll(c.Request.Body)
		if e := BodyTimeout(err); e != nil {
			Abort(c, e)
			return
		}
		if err != nil {
			Abort(c, events.Errorf(events.KindInvalid, "unreadable", "%v", err))
			return
		}
		c.JSON(http.StatusOK, gin.H{"read": len(b)})
	})
	if routes != nil {
		routes(r)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// trickle sends a request that announces a body of size bytes and sends one byte every
// interval, until the server answers; the server must close the connection after its answer.
func trickle(t *testing.T, url, path string, size int, interval time.Duration) (*http.Response, []byte) {
	t.Helper()
	res, body, closed := testenv.Trickle(t, url, path, size, interval, safety)
	if !closed {
		t.Errorf("the connection stayed open after the answer")
	}
	return res, body
}

// A client trickling its body (one byte at a time, never finishing in time) is answered 408
// body_timeout and disconnected, instead of holding the connection as long as it likes.
// The write deadline never comes before the 408 can be written, whatever the two timeouts.
func TestDeadlinesTricklingBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		body, write time.Duration
	}{
		{"write timeout longer", 200 * time.Millisecond, 5 * time.Second},
		{"equal timeouts (the defaults)", 200 * time.Millisecond, 200 * time.Millisecond},
		{"write timeout shorter", 200 * time.Millisecond, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := deadlineServer(t, tc.body, tc.write, nil)
			res, body := trickle(t, srv.URL, "/read", 10_000, 20*time.Millisecond)
			var b Body
			_ = json.Unmarshal(body, &b)
			if res.StatusCode != http.StatusRequestTimeout || b.Error.Code != "body_timeout" || !res.Close {
				t.Fatalf("trickling body: %d %v %s, want 408 body_timeout and Connection: close", res.StatusCode, res.Header, body)
			}
		})
	}
}

// A body that arrives in time is read, and the handler may work on after the body deadline:
// the deadline must be gone once the body is in (net/http clears it), or the server's watch for
// a vanished client would time out and cancel the request's context.
func TestDeadlinesBodyInTime(t *testing.T) {
	t.Parallel()
	const bodyTimeout = 100 * time.Millisecond
	srv := deadlineServer(t, bodyTimeout, 5*time.Second, func(r *gin.Engine) {
		r.POST("/slow", func(c *gin.Context) {
			if _, err := io.ReadAll(c.Request.Body); err != nil {
				Abort(c, err)
				return
			}
			// Pacing, not an assertion: outlive the body deadline, then look at the context.
			time.Sleep(3 * bodyTimeout)
			if err := c.Request.Context().Err(); err != nil {
				Abort(c, events.Errorf(events.KindInternal, "cancelled", "%v", err))
				return
			}
			c.JSON(http.StatusOK, gin.H{"ok": true})
		})
	})
	for _, path := range []string{"/read", "/slow"} {
		res, err := http.Post(srv.URL+path, "application/json", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s, want 200", path, res.StatusCode, b)
		}
	}
}

// An answer that the client does not read fails its writes once the write deadline passes,
// instead of holding the handler forever; a streaming route opts out and writes on.
func TestDeadlinesWrite(t *testing.T) {
	t.Parallel()
	const writeTimeout = 100 * time.Millisecond
	wrote := make(chan error, 1)
	late := make(chan error, 1)
	srv := deadlineServer(t, time.Second, writeTimeout, func(r *gin.Engine) {
		r.GET("/big", func(c *gin.Context) {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for start := time.Now(); time.Since(start) < safety; {
				if _, err := c.Writer.Write(chunk); err != nil {
					wrote <- err
					return
				}
			}
			wrote <- errors.New("every write succeeded although the client reads nothing")
		})
		r.GET("/stream", Streaming, func(c *gin.Context) {
			time.Sleep(3 * writeTimeout) // pacing: write after the deadline Deadlines set
			_, err := c.Writer.Write([]byte("late"))
			if err == nil {
				err = http.NewResponseController(c.Writer).Flush()
			}
			late <- err
		})
	})

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprint(conn, "GET /big HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select { // never reads: the socket fills up
	case err := <-wrote:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write to a client that does not read: %v, want a timeout", err)
		}
	case <-time.After(safety):
		t.Fatal("a write to a client that does not read never failed")
	}

	res, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if err := <-late; err != nil || string(b) != "late" {
		t.Errorf("streaming route: write error %v, read %q; want the late write to arrive", err, b)
	}
}
