package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsehq/pulse/client"
)

// The live role's caps per connection (live.Config defaults): 1,000 subjects and 100
// subscriptions. The probe stays within them.
const (
	subjectsPerSub  = 100
	subsPerConn     = 10
	fanoutSubjects  = subjectsPerSub // an idle subscriber watches the hottest subjects
	snapshotTimeout = 10 * time.Second
	dialParallelism = 32
)

// frameHead is what every frame of /v1/live starts with; an idle subscriber reads only this.
type frameHead struct {
	Op      string `json:"op"`
	ID      string `json:"id"`
	Seq     int64  `json:"seq"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// subscription is the reader's view of one of its subscriptions.
type subscription struct {
	sentAt  time.Time
	lastSeq int64
	got     bool // its first snapshot arrived
}

// liveConn is one WebSocket with its subscriptions, read by one goroutine.
type liveConn struct {
	c    *websocket.Conn
	subs map[string]*subscription
}

// live measures what a browser sees: snapshot latency, and end-to-end latency through the
// tracker. Extra idle subscribers (fan-out) count the frames they receive.
type live struct {
	url     string
	header  http.Header
	typ     string
	rankOf  map[string]int // tracked subject → rank
	track   *tracker
	subject func(rank int) string

	snapshot     histogram
	frames       atomic.Int64 // update frames received by the probe
	fanFrames    atomic.Int64 // update frames received by idle subscribers
	gaps         atomic.Int64 // seq gaps: frames the server dropped for a slow reader
	fanOK        atomic.Int64
	fanFailed    atomic.Int64
	fanSnapshots atomic.Int64 // idle subscribers whose snapshot arrived

	window    atomic.Pointer[string] // the longest window, whose count is matched
	snapshots chan error             // one per subscription: its first snapshot, or why none came
	conns     []*websocket.Conn
	mu        sync.Mutex
	wg        sync.WaitGroup
}

func newLive(baseURL, apiKey, typ string, track *tracker, subject func(int) string) *live {
	h := http.Header{}
	if apiKey != "" {
		h.Set("Authorization", "Bearer "+apiKey)
	}
	l := &live{
		url:     "ws" + strings.TrimPrefix(strings.TrimSuffix(baseURL, "/"), "http") + "/v1/live",
		header:  h,
		typ:     typ,
		rankOf:  make(map[string]int, len(track.tracked)),
		track:   track,
		subject: subject,
	}
	for r := range track.tracked {
		l.rankOf[subject(r)] = r
	}
	return l
}

// probe subscribes to every tracked subject and waits for all snapshots, which set the
// tracker's base counts; from then on every count seen resolves pending sends.
func (l *live) probe(ctx context.Context) error {
	n := len(l.track.tracked)
	var subs [][]string
	for lo := 0; lo < n; lo += subjectsPerSub {
		chunk := make([]string, 0, subjectsPerSub)
		for r := lo; r < min(lo+subjectsPerSub, n); r++ {
			chunk = append(chunk, l.subject(r))
		}
		subs = append(subs, chunk)
	}
	l.snapshots = make(chan error, len(subs))
	for lo := 0; lo < len(subs); lo += subsPerConn {
		if err := l.open(ctx, "p", subs[lo:min(lo+subsPerConn, len(subs))], false); err != nil {
			return err
		}
	}
	timeout := time.NewTimer(snapshotTimeout)
	defer timeout.Stop()
	for range subs {
		select {
		case err := <-l.snapshots:
			if err != nil {
				return err
			}
		case <-timeout.C:
			return fmt.Errorf("live: no snapshot within %s", snapshotTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// fanout opens n idle subscribers to the hottest subjects, dialing a few at a time.
func (l *live) fanout(ctx context.Context, n int) {
	subjects := make([]string, 0, fanoutSubjects)
	for r := range min(fanoutSubjects, len(l.track.expected)) {
		subjects = append(subjects, l.subject(r))
	}
	sem := make(chan struct{}, dialParallelism)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := l.open(ctx, "f", [][]string{subjects}, true); err != nil {
				l.fanFailed.Add(1)
				return
			}
			l.fanOK.Add(1)
		})
	}
	wg.Wait()
}

// open dials one connection, sends its subscriptions and starts its reader.
func (l *live) open(ctx context.Context, prefix string, subs [][]string, idle bool) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(dctx, l.url, &websocket.DialOptions{HTTPHeader: l.header})
	if err != nil {
		if res != nil {
			return fmt.Errorf("live: dial %s: %s", l.url, res.Status)
		}
		return fmt.Errorf("live: dial %s: %w", l.url, err)
	}
	c.SetReadLimit(4 << 20)
	lc := &liveConn{c: c, subs: make(map[string]*subscription, len(subs))}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	msgs := make([][]byte, len(subs))
	for i, subjects := range subs {
		id := prefix + strconv.Itoa(i)
		msgs[i], _ = json.Marshal(map[string]any{"op": "subscribe", "id": id, "type": l.typ, "subjects": subjects})
		lc.subs[id] = &subscription{}
	}
	// The reader owns lc.subs from here on, so every subscription is stamped before it starts
	// (a snapshot may arrive before the last Write returns).
	now := time.Now()
	for _, s := range lc.subs {
		s.sentAt = now
	}
	l.wg.Go(func() { l.read(lc, idle) })
	for _, m := range msgs {
		if err := c.Write(dctx, websocket.MessageText, m); err != nil {
			return fmt.Errorf("live: subscribe: %w", err)
		}
	}
	return nil
}

// read handles one connection's frames until it closes.
func (l *live) read(lc *liveConn, idle bool) {
	for {
		_, b, err := lc.c.Read(context.Background())
		if err != nil {
			if !idle {
				// A probe connection that closes before its snapshots fails the wait.
				for _, s := range lc.subs {
					if !s.got {
						s.got = true
						l.snapshots <- fmt.Errorf("live: connection closed before its snapshot: %w", err)
					}
				}
			}
			return
		}
		now := time.Now()
		var f client.Frame
		if idle {
			// Idle subscribers skip the counts: a thousand of them decoding every update
			// would make the tool, not the server, the bottleneck.
			var h frameHead
			if json.Unmarshal(b, &h) != nil {
				continue
			}
			f = client.Frame{Op: h.Op, ID: h.ID, Seq: h.Seq, Code: h.Code, Message: h.Message}
		} else if json.Unmarshal(b, &f) != nil {
			continue
		}
		s := lc.subs[f.ID]
		if s == nil {
			continue
		}
		switch f.Op {
		case "error":
			if !s.got && !idle {
				s.got = true
				l.snapshots <- fmt.Errorf("live: subscribe refused: %s: %s", f.Code, f.Message)
			}
			continue
		case "snapshot", "update":
		default:
			continue
		}
		if s.lastSeq != 0 && f.Seq != s.lastSeq+1 {
			l.gaps.Add(1)
		}
		s.lastSeq = f.Seq
		first := f.Op == "snapshot" && !s.got
		if first {
			s.got = true
			l.snapshot.record(now.Sub(s.sentAt))
			if idle {
				l.fanSnapshots.Add(1)
			}
		} else if idle {
			l.fanFrames.Add(1)
		} else {
			l.frames.Add(1)
		}
		if idle {
			continue
		}
		w := l.countWindow(f.Counts)
		for _, item := range f.Counts {
			rank, ok := l.rankOf[item.Subject]
			n, has := item.Counts[w]
			if !ok || !has {
				continue
			}
			if first {
				l.track.setBase(rank, n)
			} else {
				l.track.observed(rank, n, now)
			}
		}
		if first {
			l.snapshots <- nil
		}
	}
}

// countWindow is the longest window named in the counts (learnt from the first frame): while a
// run is shorter than it, its count only grows, so it is the one matched against sends.
func (l *live) countWindow(counts []client.SubjectCounts) string {
	if w := l.window.Load(); w != nil {
		return *w
	}
	if len(counts) == 0 {
		return ""
	}
	var best string
	var bestD time.Duration
	for k := range counts[0].Counts {
		if d, err := time.ParseDuration(k); err == nil && d > bestD {
			best, bestD = k, d
		}
	}
	l.window.Store(&best)
	return best
}

// close ends every connection and waits for the readers.
func (l *live) close() {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	// In parallel: each close waits for the server's answer.
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.Close(websocket.StatusNormalClosure, "bench done") })
	}
	wg.Wait()
	l.wg.Wait()
}
