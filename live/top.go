package live

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	api "github.com/pulsehq/pulse/client"
)

// topKey identifies one shared leaderboard computation.
type topKey struct {
	typ           string
	window, limit int
}

// topGroup is every top subscription of one (type, window, limit): the leaderboard is read
// once for all of them, at most every Interval, and only after a change of its type.
// Guarded by Hub.topMu, except the immutable key and windowJSON.
type topGroup struct {
	key        topKey
	windowJSON []byte
	members    map[*subscription]struct{}
	result     *topResult
	dirty      bool      // a change of the type arrived since the last read began
	due        time.Time // no read before (interval, or retry after a failed read)
}

// topResult is one read leaderboard, shared read-only by every member's frames.
type topResult struct {
	n       int64 // grows per result of a group: a member never goes back to an older one
	at      int64
	entries []byte // JSON array
}

// joinTop adds a top subscription to its group, creating the group (and asking for a read)
// when it is the first, and returns the group's current result if there is one.
func (h *Hub) joinTop(sub *subscription, key topKey) *topResult {
	h.topMu.Lock()
	defer h.topMu.Unlock()
	g := h.groups[key]
	if g == nil {
		g = &topGroup{key: key, windowJSON: quote(h.cfg.Windows[key.window].Name),
			members: make(map[*subscription]struct{}), dirty: true}
		h.groups[key] = g
		h.byType[key.typ] = append(h.byType[key.typ], g)
		h.wakeTop()
	}
	g.members[sub] = struct{}{}
	sub.group = g
	return g.result
}

func (h *Hub) leaveTop(sub *subscription) {
	h.topMu.Lock()
	defer h.topMu.Unlock()
	g := sub.group
	delete(g.members, sub)
	if len(g.members) > 0 || h.groups[g.key] != g {
		return
	}
	delete(h.groups, g.key)
	gs := h.byType[g.key.typ]
	for i := range gs {
		if gs[i] == g {
			gs[i] = gs[len(gs)-1]
			gs = gs[:len(gs)-1]
			break
		}
	}
	if len(gs) == 0 {
		delete(h.byType, g.key.typ)
	} else {
		h.byType[g.key.typ] = gs
	}
}

// touchTop marks the leaderboards of types as changed.
func (h *Hub) touchTop(types []string) {
	h.topMu.Lock()
	defer h.topMu.Unlock()
	woke := false
	for _, t := range types {
		for _, g := range h.byType[t] {
			g.dirty = true
			woke = true
		}
	}
	if woke {
		h.wakeTop()
	}
}

// touchAllTop marks every leaderboard as changed (a partition resynced: any type may have moved).
func (h *Hub) touchAllTop() {
	h.topMu.Lock()
	defer h.topMu.Unlock()
	for _, g := range h.groups {
		g.dirty = true
	}
	h.wakeTop()
}

func (h *Hub) wakeTop() {
	select {
	case h.topWake <- struct{}{}:
	default:
	}
}

// runTop reads due leaderboards and hands them to their members, until ctx ends.
func (h *Hub) runTop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, wait := h.dueTop(time.Now())
		for _, g := range due {
			h.readTop(ctx, g)
		}
		if len(due) > 0 {
			continue // reads took time: look again before sleeping
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.topWake:
		case <-timer.C:
		}
	}
}

// dueTop takes the groups to read now, and says how long until the next one is due.
func (h *Hub) dueTop(now time.Time) (due []*topGroup, wait time.Duration) {
	h.topMu.Lock()
	defer h.topMu.Unlock()
	for _, g := range h.groups {
		if !g.dirty {
			continue
		}
		if d := g.due.Sub(now); d > 0 {
			if wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		g.dirty = false
		g.due = now.Add(h.cfg.Interval)
		due = append(due, g)
	}
	return due, wait
}

func (h *Hub) readTop(ctx context.Context, g *topGroup) {
	qctx, cancel := context.WithTimeout(ctx, h.cfg.QueryTimeout)
	lb, err := h.src.Top(qctx, g.key.typ, g.key.window, g.key.limit)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("live: read leaderboard", "type", g.key.typ, "err", err)
			h.m.queryErrors.Inc()
		}
		h.topMu.Lock()
		g.dirty = true
		g.due = time.Now().Add(max(time.Second, h.cfg.Interval))
		h.topMu.Unlock()
		return
	}
	entries := lb.Entries
	if entries == nil {
		entries = []api.Entry{}
	}
	body, _ := json.Marshal(entries) // strings and ints only: always marshals

	h.topMu.Lock()
	if g.result != nil && bytes.Equal(g.result.entries, body) {
		h.topMu.Unlock()
		return // the type changed, but not this leaderboard
	}
	var n int64 = 1
	if g.result != nil {
		n = g.result.n + 1
	}
	res := &topResult{n: n, at: lb.At, entries: body}
	g.result = res
	members := make([]*subscription, 0, len(g.members))
	for sub := range g.members {
		members = append(members, sub)
	}
	h.topMu.Unlock()

	for _, sub := range members {
		sub.c.offerTop(sub, res)
	}
}
