package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Presence: how many connections watch a subject, over every live process. A connection
// watches the subjects of its subscriptions that asked for it ("watch": true), each subject
// once however many of its subscriptions name it. Each process counts its own watchers and,
// every PresenceInterval, writes them to Redis and reads the others'.

// PresenceStore shares per-process watcher counts between live processes.
type PresenceStore interface {
	// Sync publishes this process's counts (every subject it has watchers of; a subject
	// missing from local has none), to be forgotten ttl after unless synced again, and
	// returns, for the subjects of local, the watchers of every other process that is alive.
	Sync(ctx context.Context, local map[string]int64, ttl time.Duration) (others map[string]int64, err error)
	// Leave forgets this process's counts at once: it is stopping.
	Leave(ctx context.Context) error
}

// presence is a hub's side of it: local counts, the others' last known counts, and the
// subject states that show them.
type presence struct {
	mu     sync.Mutex
	local  map[string]int64                      // watchers here, per subject
	others map[string]int64                      // watchers elsewhere, as of the last sync
	shown  map[string]int64                      // the total last offered to the states
	states map[string]map[*subjectState]struct{} // of watch subscriptions, per subject
}

func newPresence() *presence {
	return &presence{local: map[string]int64{}, others: map[string]int64{}, shown: map[string]int64{},
		states: map[string]map[*subjectState]struct{}{}}
}

// watching is the best current total of subject: this process's watchers now, the others' as
// of the last sync.
func (p *presence) watching(subject string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.local[subject] + p.others[subject]
}

// add counts delta watchers of subject: a connection that starts (1) or stops (-1) watching it.
func (p *presence) add(subject string, delta int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.local[subject] + delta; n > 0 {
		p.local[subject] = n
	} else {
		delete(p.local, subject)
	}
}

// track adds st among the states that show its subject's total (on), or removes it.
func (p *presence) track(st *subjectState, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sts := p.states[st.name]
	if on {
		if sts == nil {
			sts = map[*subjectState]struct{}{}
			p.states[st.name] = sts
		}
		sts[st] = struct{}{}
		return
	}
	delete(sts, st)
	if len(sts) == 0 {
		delete(p.states, st.name)
		delete(p.others, st.name)
		delete(p.shown, st.name)
	}
}

// presenceTTL is how many sync intervals a process's counts outlive its last sync: a sync
// or two may fail (a Redis failover) before the counts of a live process vanish.
const presenceTTL = 5

// runPresence syncs with the store every interval and offers changed totals to the states;
// at the end it takes this process's counts out of the store.
func (h *Hub) runPresence(ctx context.Context) {
	t := time.NewTicker(h.cfg.PresenceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if h.cfg.Presence != nil {
				lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.QueryTimeout)
				if err := h.cfg.Presence.Leave(lctx); err != nil {
					h.log.Debug("live: presence leave failed", "err", err)
				}
				cancel()
			}
			return
		case <-t.C:
		}
		h.syncPresence(ctx)
	}
}

func (h *Hub) syncPresence(ctx context.Context) {
	p := h.presence
	p.mu.Lock()
	local := maps.Clone(p.local)
	p.mu.Unlock()
	others := map[string]int64{} // alone without a store
	var err error
	if h.cfg.Presence != nil {
		qctx, cancel := context.WithTimeout(ctx, h.cfg.QueryTimeout)
		others, err = h.cfg.Presence.Sync(qctx, local, presenceTTL*h.cfg.PresenceInterval)
		cancel()
	}
	if err != nil {
		h.m.queryErrors.Inc()
		h.log.Debug("live: presence sync failed", "err", err)
		others = nil // keep the last known totals of the others
	}

	type offer struct {
		st *subjectState
		n  int64
	}
	var offers []offer
	p.mu.Lock()
	if others != nil {
		clear(p.others)
		for s, n := range others {
			if _, watched := p.states[s]; watched && n > 0 {
				p.others[s] = n
			}
		}
	}
	for s, sts := range p.states {
		n := p.local[s] + p.others[s]
		if n == p.shown[s] {
			continue
		}
		p.shown[s] = n
		for st := range sts {
			offers = append(offers, offer{st, n})
		}
	}
	p.mu.Unlock()
	for _, o := range offers {
		o.st.offerWatching(o.n)
	}
}

// RedisPresence keeps each live process's counts in a hash of its own that expires unless
// renewed, and the processes in a sorted set scored by when their hash expires: a process that
// dies stops counting within TTL, and the memory it held goes with its hash.
type RedisPresence struct {
	rdb  redis.UniversalClient
	node string
	key  string

	written map[string]int64 // what the hash holds, as far as this process knows
}

// presenceNodes is the sorted set of live processes; each one's hash is presenceKey(node).
const presenceNodes = "pulse:watch:nodes"

func presenceKey(node string) string { return "pulse:watch:" + node }

// NewRedisPresence returns the store of one process, under a random node id: a restarted
// process is a new node, and the counts of its previous life expire.
func NewRedisPresence(rdb redis.UniversalClient) *RedisPresence {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	node := hex.EncodeToString(b)
	return &RedisPresence{rdb: rdb, node: node, key: presenceKey(node)}
}

// Sync writes what changed since the last sync (everything when the hash is gone: it expired
// while Redis was away, or this is the first sync), renews it, then reads the other processes'
// counts of the same subjects.
func (r *RedisPresence) Sync(ctx context.Context, local map[string]int64, ttl time.Duration) (map[string]int64, error) {
	now := time.Now()
	alive, err := r.rdb.PExpire(ctx, r.key, ttl).Result()
	if err != nil {
		return nil, err
	}
	if !alive {
		r.written = nil
	}
	var set []any
	var del []string
	for s, n := range local {
		if r.written[s] != n {
			set = append(set, s, n)
		}
	}
	for s := range r.written {
		if _, ok := local[s]; !ok {
			del = append(del, s)
		}
	}
	expires := now.Add(ttl).UnixMilli()
	_, err = r.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		if len(set) > 0 {
			pipe.HSet(ctx, r.key, set...)
		}
		if len(del) > 0 {
			pipe.HDel(ctx, r.key, del...)
		}
		pipe.PExpire(ctx, r.key, ttl)
		pipe.ZAdd(ctx, presenceNodes, redis.Z{Score: float64(expires), Member: r.node})
		pipe.ZRemRangeByScore(ctx, presenceNodes, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
		return nil
	})
	if err != nil {
		r.written = nil // unknown: write everything next time
		return nil, err
	}
	r.written = maps.Clone(local)
	if len(local) == 0 {
		return map[string]int64{}, nil
	}

	nodes, err := r.rdb.ZRangeByScore(ctx, presenceNodes, &redis.ZRangeBy{Min: strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	subjects := make([]string, 0, len(local))
	for s := range local {
		subjects = append(subjects, s)
	}
	var reads []*redis.SliceCmd
	_, err = r.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, n := range nodes {
			if n != r.node {
				reads = append(reads, pipe.HMGet(ctx, presenceKey(n), subjects...))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	others := make(map[string]int64, len(subjects))
	for _, cmd := range reads {
		for i, v := range cmd.Val() {
			if s, ok := v.(string); ok {
				n, _ := strconv.ParseInt(s, 10, 64)
				others[subjects[i]] += n
			}
		}
	}
	return others, nil
}

// Leave removes this process's counts at once (a graceful stop) instead of when they expire.
func (r *RedisPresence) Leave(ctx context.Context) error {
	_, err := r.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Del(ctx, r.key)
		pipe.ZRem(ctx, presenceNodes, r.node)
		return nil
	})
	return err
}

// watch counts sub's subjects as watched by its connection, each subject once per connection
// however many of its subscriptions name it, and lets sub's states show the totals. Only the
// connection's reader calls watch and unwatch (subscribe, unsubscribe, then unregister), so
// they never interleave for one connection.
func (h *Hub) watch(sub *subscription) {
	c := sub.c
	var first []string
	c.mu.Lock()
	if c.watched == nil {
		c.watched = map[string]int{}
	}
	for _, st := range sub.subjects {
		if c.watched[st.name]++; c.watched[st.name] == 1 {
			first = append(first, st.name)
		}
	}
	c.mu.Unlock()
	for _, s := range first {
		h.presence.add(s, 1)
	}
	for _, st := range sub.subjects {
		h.presence.track(st, true)
	}
}

// unwatch undoes watch.
func (h *Hub) unwatch(sub *subscription) {
	c := sub.c
	var last []string
	c.mu.Lock()
	for _, st := range sub.subjects {
		if c.watched[st.name]--; c.watched[st.name] <= 0 {
			delete(c.watched, st.name)
			last = append(last, st.name)
		}
	}
	c.mu.Unlock()
	for _, st := range sub.subjects {
		h.presence.track(st, false)
	}
	for _, s := range last {
		h.presence.add(s, -1)
	}
}

// offerWatching stores a new total of st's watchers; the writer sends it like a change of
// counts.
func (st *subjectState) offerWatching(n int64) {
	sub := st.sub
	c := sub.c
	c.mu.Lock()
	defer c.unlock()
	if sub.removed || st.watching == n {
		return
	}
	st.watching = n
	if !st.changed {
		st.changed = true
		sub.changed++
	}
	if sub.snap == snapLive {
		c.queue(sub)
	}
}
