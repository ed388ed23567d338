// Package live pushes per-subject window counts and leaderboards to browsers over WebSockets
// and Server-Sent Events. A Feed follows the counter's change sets in Redis; the Hub fans them
// out to subscriptions with per-subscription conflation, so a publisher never waits for a client.
package live

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// Hub holds the connected clients and their subscriptions.
//
// Lock order: Hub.mu, then client.mu; snapshotter.mu, then client.mu; client.mu, then
// presence.mu; Hub.topMu is never held while taking another lock.
type Hub struct {
	cfg   Config
	src   Source
	log   *slog.Logger
	m     *metrics
	keys  [][]byte // `,"1m":` per window
	snaps *snapshotter

	presence *presence

	origins *httpapi.Origins
	conns   *connLimit

	mu        sync.RWMutex
	bySubject map[subjectKey][]*subjectState
	clients   map[*client]struct{}
	closing   bool
	live      sync.WaitGroup // one per registered client, until its handler is done

	topMu   sync.Mutex
	groups  map[topKey]*topGroup
	byType  map[string][]*topGroup
	topWake chan struct{}
}

type subjectKey struct{ typ, subject string }

// New returns a hub reading snapshots and leaderboards from src.
func New(src Source, cfg Config) (*Hub, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	origins, err := httpapi.NewOrigins(cfg.AllowedOrigins) // also checks the patterns' syntax
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	h := &Hub{
		cfg: cfg, src: src, log: cfg.Logger, m: newMetrics(cfg.Metrics), keys: windowKeys(cfg.Windows),
		origins: origins, conns: newConnLimit(cfg.MaxConns, cfg.MaxConnsPerAddr),
		bySubject: make(map[subjectKey][]*subjectState),
		clients:   make(map[*client]struct{}),
		groups:    make(map[topKey]*topGroup),
		byType:    make(map[string][]*topGroup),
		topWake:   make(chan struct{}, 1),
	}
	h.snaps = newSnapshotter(h)
	h.presence = newPresence()
	return h, nil
}

// Run reads snapshots and computes leaderboards until ctx ends, then closes every client with
// 1001 (going away) and returns once all of them are gone.
func (h *Hub) Run(ctx context.Context) error {
	var bg sync.WaitGroup
	bg.Go(func() { h.snaps.run(ctx) })
	bg.Go(func() { h.runPresence(ctx) })
	bg.Go(func() { h.watchWrites(ctx) })
	bg.Go(func() { h.pingClients(ctx) })
	err := h.runTop(ctx)
	bg.Wait()
	h.Close()
	h.live.Wait()
	return err
}

// Close closes every client with 1001 "server shutting down" and refuses new ones. It does
// not wait: Run does. Calling it again is harmless.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closing = true
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.stop(websocket.StatusGoingAway, "server shutting down", nil)
	}
}

// watchWrites ends WebSocket writes that take longer than SlowTimeout, checking every quarter
// of it (at most every second): a write is cut after SlowTimeout to 1.25 × SlowTimeout.
func (h *Hub) watchWrites(ctx context.Context) {
	h.everyClient(ctx, min(max(h.cfg.SlowTimeout/4, 10*time.Millisecond), time.Second), func(now time.Time) func(*client) {
		limit := now.Add(-h.cfg.SlowTimeout).UnixNano()
		return func(c *client) { c.checkWrite(limit) }
	})
}

// pingClients has each client pinged every PingInterval, from one ticker (at most every
// second) instead of a ticker per client: the clients due are woken together, so 10,000 idle
// connections cost the process one wake-up a second instead of one per ping and pong.
func (h *Hub) pingClients(ctx context.Context) {
	h.everyClient(ctx, min(h.cfg.PingInterval, time.Second), func(now time.Time) func(*client) {
		ns := now.UnixNano()
		return func(c *client) {
			if c.nextPing <= ns {
				c.nextPing = ns + int64(h.cfg.PingInterval)
				c.pingDue.Store(true)
				c.wakeUp()
			}
		}
	})
}

// everyClient calls round(now)'s function on every client, every period, until ctx ends.
func (h *Hub) everyClient(ctx context.Context, period time.Duration, round func(now time.Time) func(*client)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			visit := round(now)
			h.mu.RLock()
			for c := range h.clients {
				visit(c)
			}
			h.mu.RUnlock()
		}
	}
}

// register adds a client; false once the hub is shutting down. The client's handler calls
// unregister when it is done with the connection.
func (h *Hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.clients[c] = struct{}{}
	h.live.Add(1)
	h.m.connections.WithLabelValues(c.transport).Inc()
	return true
}

func (h *Hub) unregister(c *client) {
	for _, sub := range c.release() {
		h.drop(sub)
	}
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	h.m.connections.WithLabelValues(c.transport).Dec()
	h.live.Done()
}

func (h *Hub) isClosing() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closing
}

// index makes a subject subscription receive changes.
func (h *Hub) index(sub *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range sub.subjects {
		k := subjectKey{sub.typ, st.name}
		h.bySubject[k] = append(h.bySubject[k], st)
	}
}

// drop stops a removed subscription from receiving anything.
func (h *Hub) drop(sub *subscription) {
	if sub.watch {
		h.unwatch(sub)
	}
	if sub.isTop {
		h.leaveTop(sub)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range sub.subjects {
		k := subjectKey{sub.typ, st.name}
		sts := h.bySubject[k]
		if i := slices.Index(sts, st); i >= 0 {
			sts[i] = sts[len(sts)-1]
			sts[len(sts)-1] = nil
			sts = sts[:len(sts)-1]
		}
		if len(sts) == 0 {
			delete(h.bySubject, k)
		} else {
			h.bySubject[k] = sts
		}
	}
}

// apply hands change sets (in the order published) to the subscriptions of their subjects,
// the latest change of each subject only, and marks the leaderboards of their types. It never
// blocks on a client: each subscription keeps only the latest counts.
func (h *Hub) apply(sets ...*events.ChangeSet) {
	now := time.Now()
	var latest []pendingChange
	var index map[subjectKey]int // into latest, when there are several sets to merge
	if len(sets) > 1 {
		index = make(map[subjectKey]int)
	}
	var types []string
	var replaced []subjectKey // one per change replaced by a later one of its subject
	for _, cs := range sets {
		h.m.changeSets.Inc()
		h.m.changeDelay.Observe(max(0, now.Sub(time.UnixMilli(cs.At)).Seconds()))
		for i := range cs.Changes {
			ch := &cs.Changes[i]
			if len(ch.Counts) != len(h.cfg.Windows) {
				h.m.badChanges.Inc()
				continue
			}
			if !slices.Contains(types, ch.Type) {
				types = append(types, ch.Type)
			}
			pc := pendingChange{key: subjectKey{ch.Type, ch.Subject}, counts: ch.Counts, version: cs.Version, at: cs.At}
			if j, ok := index[pc.key]; ok {
				latest[j] = pc // a subject's changes come from one partition, in version order
				replaced = append(replaced, pc.key)
				continue
			}
			if index != nil {
				index[pc.key] = len(latest)
			}
			latest = append(latest, pc)
		}
	}

	var stale, conflated int
	h.mu.RLock()
	for _, k := range replaced { // conflated before it reached the subscriptions
		conflated += len(h.bySubject[k])
	}
	for _, pc := range latest {
		for _, st := range h.bySubject[pc.key] {
			s, c := st.offer(pc.counts, pc.version, pc.at)
			stale += s
			conflated += c
		}
	}
	h.mu.RUnlock()
	if stale > 0 {
		h.m.stale.Add(float64(stale))
	}
	if conflated > 0 {
		h.m.conflated.Add(float64(conflated))
	}
	if len(types) > 0 {
		h.touchTop(types)
	}
}

// pendingChange is the latest change of one subject in the change sets of one apply.
type pendingChange struct {
	key         subjectKey
	counts      []int64
	version, at int64
}

// resync asks every subscription with a subject in partition p for a fresh snapshot, and every
// leaderboard for a fresh read: changes of p may have been missed.
func (h *Hub) resync(p int) {
	h.m.resyncs.Inc()
	h.mu.RLock()
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.RUnlock()
	for _, c := range clients {
		c.resync(p)
	}
	h.touchAllTop()
}
