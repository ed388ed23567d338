package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/cmd/pulse/app"
)

// liveTune gives tests a short conflation interval; windows stay the defaults unless a test
// needs decay within seconds.
func liveTune(more ...func(*app.Config)) func(*app.Config) {
	return func(c *app.Config) {
		c.Live.Interval = 20 * time.Millisecond
		for _, f := range more {
			f(c)
		}
	}
}

// liveFrame is any server frame of /v1/live, as the Go client reads it.
type liveFrame struct {
	api.Frame
	received time.Time
}

// count returns subject's count in window, and whether the frame carries the subject.
func (f liveFrame) count(subject, window string) (int64, bool) {
	for _, c := range f.Counts {
		if c.Subject == subject {
			return c.Counts[window], true
		}
	}
	return 0, false
}

// counts returns subject's counts in the windows' order.
func (f liveFrame) counts(subject string, windows ...string) ([]int64, bool) {
	var out []int64
	for _, w := range windows {
		n, ok := f.count(subject, w)
		if !ok {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// liveClient is a WebSocket client of /v1/live. Unless dialled stuck, a goroutine reads all the
// time (so pings are answered) into a channel.
type liveClient struct {
	t      testing.TB
	conn   *websocket.Conn
	frames chan *liveFrame
	err    error // why frames was closed
}

func liveURL(p *Pulse) string { return "ws" + strings.TrimPrefix(p.URL, "http") + "/v1/live" }

func dialLive(t testing.TB, p *Pulse) *liveClient {
	c := dialLiveStuck(t, p)
	c.startReading()
	return c
}

func dialLiveStuck(t testing.TB, p *Pulse) *liveClient {
	t.Helper()
	c, err := dialLiveConn(t, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tryDialLive is dialLive for other goroutines than the test's: it returns the error.
func tryDialLive(t testing.TB, p *Pulse) (*liveClient, error) {
	c, err := dialLiveConn(t, p)
	if err == nil {
		c.startReading()
	}
	return c, err
}

func dialLiveConn(t testing.TB, p *Pulse) (*liveClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, liveURL(p), nil)
	if err != nil {
		return nil, fmt.Errorf("dial live: %w", err)
	}
	if res.Body != nil {
		res.Body.Close()
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &liveClient{t: t, conn: conn}, nil
}

func (c *liveClient) startReading() {
	c.frames = make(chan *liveFrame, 256)
	go func() {
		defer close(c.frames)
		for {
			_, b, err := c.conn.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			f := &liveFrame{received: time.Now()}
			if err := json.Unmarshal(b, f); err != nil {
				c.err = fmt.Errorf("bad frame %s: %w", b, err)
				return
			}
			c.frames <- f
		}
	}()
}

func (c *liveClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	c.sendRaw(b)
}

func (c *liveClient) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *liveClient) subscribe(id, typ string, subjects ...string) {
	c.t.Helper()
	c.send(map[string]any{"op": "subscribe", "id": id, "type": typ, "subjects": subjects})
}

func (c *liveClient) subscribeTop(id, typ, window string, limit int) {
	c.t.Helper()
	c.send(map[string]any{"op": "subscribe", "id": id, "type": typ, "top": map[string]any{"window": window, "limit": limit}})
}

// frameWait bounds every wait for a frame the server owes a client. It is generous because
// it only bounds a failure: on a loaded CI machine a frame can take seconds, and a test that
// waits for it is not measuring speed.
const frameWait = 2 * time.Minute

// next returns the next frame, or fails the test after frameWait.
func (c *liveClient) next() liveFrame {
	c.t.Helper()
	return c.within(frameWait)
}

func (c *liveClient) within(timeout time.Duration) liveFrame {
	c.t.Helper()
	if c.frames == nil {
		c.startReading()
	}
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection ended: %v", c.err)
		}
		return *f
	case <-time.After(timeout):
		c.t.Fatalf("no frame within %v", timeout)
	}
	return liveFrame{}
}

// until reads frames until ok accepts one (or frameWait passes) and returns it.
func (c *liveClient) until(what string, ok func(liveFrame) bool) liveFrame {
	c.t.Helper()
	deadline := time.Now().Add(frameWait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			c.t.Fatalf("timed out after %v waiting for %s", frameWait, what)
		}
		if f := c.within(left); ok(f) {
			return f
		}
	}
}

// closeStatus reads until the connection ends and returns its close status and reason.
func (c *liveClient) closeStatus() (websocket.StatusCode, string) {
	c.t.Helper()
	if c.frames == nil {
		c.startReading()
	}
	deadline := time.After(frameWait)
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			var ce websocket.CloseError
			if errors.As(c.err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, fmt.Sprint(c.err)
		case <-deadline:
			c.t.Fatalf("connection still open after %v", frameWait)
		}
	}
}

// post sends events to POST /v1/events and checks the 202.
func post(t testing.TB, p *Pulse, events ...map[string]any) {
	t.Helper()
	b, _ := json.Marshal(events)
	res, err := http.Post(p.URL+"/v1/events", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("post events: %d %s", res.StatusCode, body)
	}
}

// like posts a like of video id and returns when the 202 arrived.
func like(t testing.TB, p *Pulse, id string) time.Time {
	t.Helper()
	res, err := http.Post(p.URL+"/v1/videos/"+id+"/likes", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	accepted := time.Now()
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("like: %d %s", res.StatusCode, body)
	}
	return accepted
}

func ev(typ, subject string) map[string]any { return map[string]any{"type": typ, "subject": subject} }

// percentile of sorted durations.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}
