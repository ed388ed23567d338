package live

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsehq/pulse/internal/events"
)

// sink is where a client's frames go: a WebSocket or an SSE stream.
type sink interface {
	send(ctx context.Context, frame []byte) error
	// keepalive proves the peer is still there without blocking the writer.
	keepalive() error
	close(code websocket.StatusCode, reason string)
}

// errTooSlow is a sink's error for a client that does not keep up.
var errTooSlow = errors.New("client too slow")

// client is one connection. The hub and the topper only change its state and wake it; its
// writer (run) builds the frames from the latest state when the client can take them, so what
// is buffered per client is bounded by its subjects, whatever the rate of changes.
type client struct {
	h         *Hub
	transport string
	wake      chan struct{} // capacity 1: "something changed"
	done      chan struct{} // closed by stop

	mu        sync.Mutex
	subs      map[string]*subscription
	nSubjects int
	watched   map[string]int  // per subject, the watch subscriptions naming it
	pending   []*subscription // have something to send, or a snapshot to read
	woken     bool            // queue added to pending since c.mu was taken: unlock wakes the writer
	outbox    [][]byte        // error frames
	stopped   bool
	code      websocket.StatusCode
	reason    string

	// Only the goroutine reading client frames uses these.
	budget   float64
	budgetAt time.Time

	// Only the writer uses these.
	buf    []byte
	frames []frameRef

	// The write watchdog's view of a WebSocket writer: when the frame being written started
	// (unix ns, 0 when none), and how to end a write that takes too long. abortWrite is set
	// before the writer starts; nil for SSE, whose writes have deadlines.
	writing      atomic.Int64
	writeExpired atomic.Bool
	abortWrite   func() error

	// The hub's pinger sets pingDue and wakes the writer once every PingInterval; only the
	// pinger uses nextPing (unix ns).
	pingDue  atomic.Bool
	nextPing int64
}

type frameRef struct {
	start, end int
	sent       prometheus.Counter // frames sent, of the frame's op
}

func (h *Hub) newClient(transport string) *client {
	return &client{
		h: h, transport: transport,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		subs:   make(map[string]*subscription),
		budget: float64(h.cfg.ErrorBudget), budgetAt: time.Now(),
		nextPing: time.Now().Add(h.cfg.PingInterval).UnixNano(),
	}
}

// stop asks the writer to close the connection with code and reason. The first call wins:
// it counts the close on count (if any) before the writer can send it, so whoever sees the
// close sees it counted.
func (c *client) stop(code websocket.StatusCode, reason string, count prometheus.Counter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	if count != nil {
		count.Inc()
	}
	c.stopped, c.code, c.reason = true, code, reason
	close(c.done)
}

func (c *client) wakeUp() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// queue puts sub in the pending list. Called with c.mu held; unlock then wakes the writer.
func (c *client) queue(sub *subscription) {
	if sub.queued {
		return
	}
	sub.queued = true
	c.pending = append(c.pending, sub)
	c.woken = true
}

// unlock releases c.mu and, if something was queued meanwhile, wakes the writer: after the
// unlock, so that the writer does not wake only to wait for the lock.
func (c *client) unlock() {
	wake := c.woken
	c.woken = false
	c.mu.Unlock()
	if wake {
		c.wakeUp()
	}
}

// subscribe adds a subscription; a subject subscription gets its snapshot from the writer.
func (c *client) subscribe(s spec) *events.Error {
	h := c.h
	c.mu.Lock()
	switch {
	case c.stopped:
		c.mu.Unlock()
		return nil
	case c.subs[s.id] != nil:
		c.mu.Unlock()
		return perr("duplicate_id", "subscription %q already exists", s.id)
	case len(c.subs) >= h.cfg.MaxSubscriptions:
		c.mu.Unlock()
		return perr("too_many_subscriptions", "at most %d subscriptions per connection", h.cfg.MaxSubscriptions)
	case c.nSubjects+len(s.subjects) > h.cfg.MaxSubjects:
		c.mu.Unlock()
		return perr("too_many_subjects", "at most %d subjects per connection", h.cfg.MaxSubjects)
	}
	sub := &subscription{c: c, id: s.id, idJSON: quote(s.id), typ: s.typ, isTop: s.top, watch: s.watch}
	if !s.top {
		sub.snap = snapWanted
	}
	for _, name := range s.subjects {
		sub.subjects = append(sub.subjects, &subjectState{
			sub: sub, name: name, json: quote(name),
			part:   h.cfg.Layout.Partition(s.typ, name),
			counts: make([]int64, len(h.cfg.Windows)),
		})
	}
	c.subs[s.id] = sub
	c.nSubjects += len(sub.subjects)
	c.mu.Unlock()

	if s.top {
		if res := h.joinTop(sub, topKey{s.typ, s.window, s.limit}); res != nil {
			c.offerTop(sub, res)
		}
		return nil
	}
	if sub.watch { // before the snapshot: it counts this connection
		h.watch(sub)
	}
	// Indexed before the snapshot is read: a change that lands meanwhile is merged, not lost.
	h.index(sub)
	c.mu.Lock()
	c.queue(sub)
	c.unlock()
	return nil
}

func (c *client) unsubscribe(id string) *events.Error {
	c.mu.Lock()
	sub := c.subs[id]
	if sub == nil {
		c.mu.Unlock()
		return perr("unknown_subscription", "no subscription %q", id)
	}
	delete(c.subs, id)
	c.nSubjects -= len(sub.subjects)
	sub.removed = true
	c.mu.Unlock()
	c.h.drop(sub)
	return nil
}

// release marks every subscription removed and returns them, for the hub to drop.
func (c *client) release() []*subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	subs := make([]*subscription, 0, len(c.subs))
	for _, sub := range c.subs {
		sub.removed = true
		subs = append(subs, sub)
	}
	clear(c.subs)
	c.pending = nil
	return subs
}

// offer stores a change of st's subject; it returns 1 for a change older than what st has
// (stale) and 1 for one that replaced counts not yet sent (conflated).
func (st *subjectState) offer(counts []int64, version, at int64) (stale, conflated int) {
	sub := st.sub
	c := sub.c
	c.mu.Lock()
	if sub.removed {
		c.mu.Unlock()
		return 0, 0
	}
	stored, conf := st.apply(counts, version, at)
	if stored && st.changed && sub.snap == snapLive {
		c.queue(sub)
	}
	c.unlock()
	switch {
	case !stored:
		return 1, 0
	case conf:
		return 0, 1
	}
	return 0, 0
}

// offerTop hands a top subscription its group's latest leaderboard.
func (c *client) offerTop(sub *subscription, res *topResult) {
	c.mu.Lock()
	defer c.unlock()
	if sub.removed || (sub.top != nil && sub.top.n >= res.n) {
		return
	}
	sub.top = res
	c.queue(sub)
}

// resync asks the subscriptions with a subject in partition p for a fresh snapshot.
func (c *client) resync(p int) {
	c.mu.Lock()
	defer c.unlock()
	for _, sub := range c.subs {
		for _, st := range sub.subjects {
			if st.part == p {
				sub.restartSnapshot()
				c.queue(sub)
				break
			}
		}
	}
}

// reject answers a bad client frame with an error frame, within the connection's error budget
// (refilled at one per second); past it the client is closed.
func (c *client) reject(id string, e *events.Error) {
	now := time.Now()
	c.budget = min(float64(c.h.cfg.ErrorBudget), c.budget+now.Sub(c.budgetAt).Seconds())
	c.budgetAt = now
	if c.budget < 1 {
		c.stop(websocket.StatusPolicyViolation, "too many bad frames", c.h.m.floodCloses)
		return
	}
	c.budget--
	c.mu.Lock()
	c.outbox = append(c.outbox, appendError(nil, id, e))
	c.mu.Unlock()
	c.wakeUp()
}

// run is the client's writer: it sends what is due, sleeps until the next frame may go, and
// closes the connection once stopped. It returns when ctx ends or the client is stopped.
func (c *client) run(ctx context.Context, s sink) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait, err := c.flush(ctx, s, time.Now())
		if err != nil {
			c.fail(err)
		} else if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			c.sendOutbox(ctx, s)
			s.close(c.code, c.reason)
			return
		case <-c.wake:
			if c.pingDue.Swap(false) {
				if err := s.keepalive(); err != nil {
					c.fail(err)
				}
			}
		case <-timer.C:
		}
	}
}

// sendOutbox writes the error frames queued before the client was stopped: they say why it
// is being closed (at most ErrorBudget frames, each bounded by the write timeout).
func (c *client) sendOutbox(ctx context.Context, s sink) {
	c.mu.Lock()
	out := c.outbox
	c.outbox = nil
	c.mu.Unlock()
	for _, f := range out {
		if s.send(ctx, f) != nil {
			return
		}
		c.h.m.sent.errors.Inc()
	}
}

// fail stops a client whose sink failed; one that was too slow gets 1008.
func (c *client) fail(err error) {
	// Info, not Debug: a closed client is rare enough to log, and an operator asking why a
	// dashboard reconnected needs the cause.
	c.h.log.Info("live: closing client", "transport", c.transport, "err", err)
	if errors.Is(err, errTooSlow) {
		c.stop(websocket.StatusPolicyViolation, "client too slow", c.h.m.slowCloses)
		return
	}
	c.stop(websocket.StatusInternalError, "write failed", nil)
}

// flush writes every frame that is due, and asks for the snapshots that are due. It returns
// how long until the next pending frame may go (0: nothing pending).
func (c *client) flush(ctx context.Context, s sink, now time.Time) (time.Duration, error) {
	interval := c.h.cfg.Interval
	var snaps []*subscription
	var wait time.Duration
	later := func(t time.Time) {
		if d := t.Sub(now); wait == 0 || d < wait {
			wait = d
		}
	}

	c.mu.Lock()
	c.buf, c.frames = c.buf[:0], c.frames[:0]
	for _, e := range c.outbox {
		start := len(c.buf)
		c.buf = append(c.buf, e...)
		c.mark(start, c.h.m.sent.errors)
	}
	c.outbox = c.outbox[:0]
	kept := c.pending[:0]
	for _, sub := range c.pending {
		if (sub.snap == snapReading || sub.snap == snapStale) && !sub.removed {
			if sub.read == nil {
				sub.queued = false // being read: the snapshotter queues it again with the outcome
				continue
			}
			c.takeSnapshot(sub, now)
		}
		switch {
		case sub.removed:
			sub.queued = false
		case now.Before(sub.due) && (sub.snap == snapWanted || sub.changed > 0 || sub.top != sub.sentTop):
			later(sub.due)
			kept = append(kept, sub)
		case sub.snap == snapWanted:
			sub.snap, sub.queued = snapReading, false
			snaps = append(snaps, sub)
		case sub.isTop && sub.top != sub.sentTop:
			start := len(c.buf)
			c.buf = sub.appendTop(c.buf)
			c.mark(start, c.h.m.sent.top)
			sub.due, sub.queued = now.Add(interval), false
		case !sub.isTop && sub.changed > 0:
			start := len(c.buf)
			c.buf = sub.appendUpdate(c.buf, c.h.keys)
			c.mark(start, c.h.m.sent.updates)
			sub.due, sub.queued = now.Add(interval), false
		default:
			sub.queued = false
		}
	}
	clear(c.pending[len(kept):])
	c.pending = kept
	c.mu.Unlock()

	if len(snaps) > 0 {
		c.h.snaps.ask(snaps, now)
	}
	return wait, c.write(ctx, s)
}

// takeSnapshot uses the outcome of sub's snapshot read: the snapshot frame, or a retry after
// a backoff and, once per failing streak, an error frame. Called with c.mu held.
func (c *client) takeSnapshot(sub *subscription, now time.Time) {
	h := c.h
	res := sub.read
	sub.read = nil
	switch {
	case sub.snap == snapStale:
		// Asked again while reading (a resync): this read may predate it, the next one follows.
		sub.snap = snapWanted
	case res.err != nil:
		sub.snap = snapWanted
		sub.failures++
		sub.due = now.Add(max(retryDelay(sub.failures), h.cfg.Interval))
		if sub.failures == 1 {
			start := len(c.buf)
			c.buf = appendError(c.buf, sub.id, perr("unavailable", "counts cannot be read right now; retrying"))
			c.mark(start, c.h.m.sent.errors)
		}
	default:
		sub.snap, sub.failures = snapLive, 0
		sub.merge(res.snap)
		if sub.watch {
			for _, st := range sub.subjects {
				st.watching = h.presence.watching(st.name)
			}
		}
		start := len(c.buf)
		c.buf = sub.appendSnapshot(c.buf, h.keys)
		c.mark(start, c.h.m.sent.snapshots)
		sub.due = now.Add(h.cfg.Interval)
	}
}

// retryDelay is the wait before the next snapshot read after failures failed ones in a row:
// 1s, doubling up to 8s. Reads are shared, so this only spares a struggling Redis; a Redis
// that comes back is noticed sooner, by the feed's resubscription (a resync).
func retryDelay(failures int) time.Duration {
	return time.Second << min(failures-1, 3)
}

// offerSnapshot hands sub the outcome of its snapshot read; its writer sends it.
func (c *client) offerSnapshot(sub *subscription, res *snapRead) {
	c.mu.Lock()
	defer c.unlock()
	if sub.removed {
		return
	}
	sub.read = res
	c.queue(sub)
}

// mark records the frame appended to the writer's buffer since start, counted on sent.
func (c *client) mark(start int, sent prometheus.Counter) {
	c.frames = append(c.frames, frameRef{start, len(c.buf), sent})
}

// checkWrite ends the write in progress if it started before limit: its peer has not taken a
// frame for that long (the socket is full), so not even a close frame can go.
func (c *client) checkWrite(limit int64) {
	if at := c.writing.Load(); at != 0 && at < limit && c.abortWrite != nil {
		c.writeExpired.Store(true)
		_ = c.abortWrite()
	}
}

func (c *client) write(ctx context.Context, s sink) error {
	for _, f := range c.frames {
		if err := s.send(ctx, c.buf[f.start:f.end]); err != nil {
			return err
		}
		f.sent.Inc()
	}
	return nil
}
