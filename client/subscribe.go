package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// subID names the one subscription a Subscription holds on its connection.
const subID = "s"

// Subscription follows the live counts of some subjects, or a leaderboard, over its own
// WebSocket (GET /v1/live). It keeps the latest counts: a snapshot replaces them, an update
// changes the subjects it names. When the connection drops it reconnects (with backoff) and
// subscribes again; when a frame is missing (a gap in seq) it subscribes again on the same
// connection. Either way the next frame is a fresh snapshot, so what it holds is never a
// mix of lost and current counts.
type Subscription struct {
	c       *Client
	request []byte // the subscribe frame

	frames chan Frame
	cancel context.CancelFunc
	done   chan struct{}
	err    error // why run ended; read after done is closed

	mu     sync.Mutex
	counts map[string]map[string]int64 // subject → window → count
	top    []Entry
}

// Subscribe follows the counts of subjects of typ in every window. It returns once the first
// snapshot arrived, or with the server's refusal (an *Error with the code of docs/live.md).
func (c *Client) Subscribe(ctx context.Context, typ string, subjects ...string) (*Subscription, error) {
	return c.subscribe(ctx, map[string]any{"op": "subscribe", "id": subID, "type": typ, "subjects": subjects})
}

// SubscribeTop follows the limit subjects of typ with the highest counts in window.
func (c *Client) SubscribeTop(ctx context.Context, typ, window string, limit int) (*Subscription, error) {
	return c.subscribe(ctx, map[string]any{"op": "subscribe", "id": subID, "type": typ,
		"top": map[string]any{"window": window, "limit": limit}})
}

func (c *Client) subscribe(ctx context.Context, req map[string]any) (*Subscription, error) {
	frame, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Subscription{c: c, request: frame, frames: make(chan Frame, 64), cancel: cancel,
		done: make(chan struct{}), counts: map[string]map[string]int64{}}
	conn, err := s.connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go s.run(runCtx, conn)
	return s, nil
}

// Next returns the next frame (a snapshot, an update, a leaderboard, or an "unavailable"
// error the server recovers from by itself), after it has been applied to Counts and Top.
// It fails once the subscription is closed, or when ctx ends.
func (s *Subscription) Next(ctx context.Context) (Frame, error) {
	select {
	case f, ok := <-s.frames:
		if !ok {
			<-s.done
			return Frame{}, s.err
		}
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// Counts returns the latest counts, subject → window → count.
func (s *Subscription) Counts() map[string]map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]int64, len(s.counts))
	for sub, ws := range s.counts {
		out[sub] = make(map[string]int64, len(ws))
		for w, n := range ws {
			out[sub][w] = n
		}
	}
	return out
}

// Top returns the latest leaderboard of a SubscribeTop subscription, highest first.
func (s *Subscription) Top() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Entry(nil), s.top...)
}

// Close ends the subscription and its connection, and waits for them.
func (s *Subscription) Close() error {
	s.cancel()
	<-s.done
	if errors.Is(s.err, context.Canceled) {
		return nil
	}
	return s.err
}

// connect dials, subscribes and waits for the first snapshot (or top), which it applies and
// queues. A refusal of the subscription is an *Error.
func (s *Subscription) connect(ctx context.Context) (*websocket.Conn, error) {
	u := *s.c.base
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path += "/v1/live"
	opts := &websocket.DialOptions{HTTPClient: s.c.cfg.HTTPClient}
	if s.c.cfg.APIKey != "" {
		opts.HTTPHeader = http.Header{"Authorization": {"Bearer " + s.c.cfg.APIKey}}
	}
	conn, res, err := websocket.Dial(ctx, u.String(), opts)
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
			return nil, &Error{Status: res.StatusCode, Code: "http_" + fmt.Sprint(res.StatusCode), Message: err.Error()}
		}
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	if err := conn.Write(ctx, websocket.MessageText, s.request); err != nil {
		conn.CloseNow()
		return nil, err
	}
	for {
		f, err := readFrame(ctx, conn)
		if err != nil {
			conn.CloseNow()
			return nil, err
		}
		switch f.Op {
		case "error":
			if f.Code == "unavailable" { // the server retries the snapshot by itself
				continue
			}
			conn.Close(websocket.StatusNormalClosure, "")
			return nil, &Error{Status: http.StatusBadRequest, Code: f.Code, Message: f.Message}
		case "snapshot", "top":
			s.apply(f)
			select {
			case s.frames <- f:
				return conn, nil
			case <-ctx.Done():
				conn.CloseNow()
				return nil, ctx.Err()
			}
		}
	}
}

func readFrame(ctx context.Context, conn *websocket.Conn) (Frame, error) {
	_, data, err := conn.Read(ctx)
	if err != nil {
		return Frame{}, err
	}
	var f Frame
	if err := json.Unmarshal(data, &f); err != nil {
		return Frame{}, fmt.Errorf("pulse: bad live frame: %w", err)
	}
	return f, nil
}

// run reads frames until ctx ends, reconnecting after a lost connection.
func (s *Subscription) run(ctx context.Context, conn *websocket.Conn) {
	defer close(s.done)
	defer close(s.frames)
	wait := s.c.cfg.MinBackoff
	for {
		err := s.follow(ctx, conn)
		conn.CloseNow()
		for ctx.Err() == nil {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			wait = min(2*wait, s.c.cfg.MaxBackoff)
			if conn, err = s.connect(ctx); err == nil {
				wait = s.c.cfg.MinBackoff
				break
			}
			if e := (*Error)(nil); errors.As(err, &e) && !e.Temporary() {
				s.err = err // refused for good (e.g. the key was revoked)
				return
			}
		}
		if ctx.Err() != nil {
			s.err = ctx.Err()
			return
		}
	}
}

// follow applies and queues the frames of conn. A gap in seq means frames were lost: the
// subscription is made again, and frames are skipped until its snapshot.
func (s *Subscription) follow(ctx context.Context, conn *websocket.Conn) error {
	seq := int64(1) // connect consumed frame 1
	resyncing := false
	for {
		f, err := readFrame(ctx, conn)
		if err != nil {
			return err
		}
		if f.Op == "error" && f.Code != "unavailable" {
			continue // an answer to the unsubscribe of a resync, or a frame of ours it refused
		}
		if f.Op != "error" {
			switch {
			case resyncing && (f.Seq != 1 || f.Op == "update"):
				continue // in flight before the new subscription, which starts with frame 1
			case resyncing || f.Seq == seq+1:
				resyncing = false
			default: // a gap: frames were lost
				resyncing = true
				if err := s.resubscribe(ctx, conn); err != nil {
					return err
				}
				continue
			}
			seq = f.Seq
			s.apply(f)
		}
		select {
		case s.frames <- f:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Subscription) resubscribe(ctx context.Context, conn *websocket.Conn) error {
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"op":"unsubscribe","id":"`+subID+`"}`)); err != nil {
		return err
	}
	return conn.Write(ctx, websocket.MessageText, s.request)
}

// apply merges f into the latest counts: a snapshot replaces them, an update changes the
// subjects it names, a top frame replaces the leaderboard.
func (s *Subscription) apply(f Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Op {
	case "snapshot":
		clear(s.counts)
		fallthrough
	case "update":
		for _, sc := range f.Counts {
			s.counts[sc.Subject] = sc.Counts
		}
	case "top":
		s.top = append(s.top[:0], f.Entries...)
	}
}
