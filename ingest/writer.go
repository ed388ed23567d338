package ingest

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/luascript"
)

//go:embed append.lua
var appendSrc string

var appendScript = redis.NewScript(appendSrc)

// errClosed answers requests that arrive after the writer began to stop.
var errClosed = errors.New("ingest writer stopped")

// Outcomes of events Redis did not take; shared, never modified. Each says whether the event
// may be stored after all, because that decides whether a client may resend an event without
// an id (docs/ingest.md, "Retrying safely").
var (
	// errRedisDown: the append never reached Redis (no connection) or Redis refused it before
	// running it (MOVED, LOADING, CLUSTERDOWN…): not stored, resending is safe.
	errRedisDown = &events.Error{Kind: events.KindUnavailable, Code: "redis_unavailable", Message: "redis is unavailable; the event was not stored: retry later"}
	// errUnconfirmed: the append was sent and its reply lost (timeout, reset): it may be
	// stored. Resending with the same id is safe; an event without id may count twice.
	errUnconfirmed = &events.Error{Kind: events.KindUnavailable, Code: "unconfirmed", Message: "redis did not confirm the append: the event may or may not be stored; resend it with the same id"}
	errBacklogFull = &events.Error{Kind: events.KindUnavailable, Code: "backlog_full", Message: "the partition's backlog is over its limit; the event was not stored: retry later"}
)

// Writer group-commits events: requests queue their items, and a committer sends everything
// pending as ONE pipeline holding one append.lua call per partition (plus the failure records
// of rejected items). While a pipeline is in flight the next requests pile up in the queue, so
// the batch grows with the load and throughput does not fall to one round trip per event.
// Config.Committers committers (default 2) take turns, so that one builds and sends its
// pipeline while Redis executes the other's instead of Redis idling between commits.
type Writer struct {
	rdb     redis.UniversalClient
	cfg     Config
	m       *Metrics
	log     *slog.Logger
	queue   chan *job
	closed  atomic.Bool
	senders atomic.Int64 // submitters between their closed check and their send

	// Arguments that never change, boxed once.
	streams     []any
	ttl, maxLen any

	failing atomic.Bool // the last commit could not reach Redis: log transitions only
}

// committer sends commits one after another; its scratch is reused by every commit.
type committer struct {
	w     *Writer
	parts []partition
	batch []*job
	sent  []*redis.Cmd // per partition, its call of this commit (nil: none)
}

// job is one request's share of a commit.
type job struct {
	items    []item
	failures []events.Failure
	records  []*redis.StringCmd // the failures' appends in the commit
	// recordErr: the failure records may not be stored. HTTP answers the request all the same;
	// a broker message stays unacknowledged, to be redelivered.
	recordErr error
	done      chan struct{} // one token per commit of the job
}

// partition collects one commit's events of one partition.
type partition struct {
	items []*item
	keys  int
	args  []any
	cmd   *redis.Cmd
	// unconfirmed: WaitReplicas is set and WAIT did not confirm this commit's appends.
	unconfirmed bool
}

// newWriter returns a writer on rdb; cfg has its defaults.
func newWriter(rdb redis.UniversalClient, cfg Config, m *Metrics) *Writer {
	w := &Writer{
		rdb:    rdb,
		cfg:    cfg,
		m:      m,
		log:    cfg.Logger,
		queue:  make(chan *job, 1024),
		ttl:    strconv.FormatInt(int64((cfg.DedupeTTL+time.Second-1)/time.Second), 10),
		maxLen: strconv.FormatInt(max(cfg.MaxBacklog, 0), 10),
	}
	for p := range cfg.Layout.Partitions {
		w.streams = append(w.streams, cfg.Layout.Stream(p))
	}
	return w
}

// Run commits queued jobs until ctx ends, then commits what is still queued and returns:
// every request that got into the queue gets its answer from Redis.
func (w *Writer) Run(ctx context.Context) error {
	// Preloading saves the first commit a NOSCRIPT round trip. Redis may be down now; commit
	// loads the script whenever Redis answers NOSCRIPT.
	_ = appendScript.Load(ctx, w.rdb).Err()
	rctx := context.WithoutCancel(ctx) // a commit always finishes, even while stopping
	var wg sync.WaitGroup
	for range w.cfg.Committers {
		c := &committer{w: w, parts: make([]partition, w.cfg.Layout.Partitions)}
		wg.Go(func() { c.run(ctx, rctx) })
	}
	wg.Wait()
	return nil
}

func (c *committer) run(ctx, rctx context.Context) {
	for {
		select {
		case j := <-c.w.queue:
			c.commit(rctx, c.w.collect(append(c.batch[:0], j)))
		case <-ctx.Done():
			c.drain(rctx)
			return
		}
	}
}

// drain stops new submissions and commits everything already submitted.
func (c *committer) drain(ctx context.Context) {
	c.w.closed.Store(true)
	for {
		select {
		case j := <-c.w.queue:
			c.commit(ctx, c.w.collect(append(c.batch[:0], j)))
		default:
			if c.w.senders.Load() == 0 && len(c.w.queue) == 0 {
				return
			}
			time.Sleep(100 * time.Microsecond) // a submitter is between its check and its send
		}
	}
}

// collect adds every queued job to batch, up to MaxCommit events.
func (w *Writer) collect(batch []*job) []*job {
	n := batch[0].size()
	for n < w.cfg.MaxCommit {
		select {
		case j := <-w.queue:
			batch = append(batch, j)
			n += j.size()
		default:
			return batch
		}
	}
	return batch
}

func (j *job) size() int { return len(j.items) + len(j.failures) }

// submit queues j and waits until its items have their outcome.
func (w *Writer) submit(j *job) error {
	w.senders.Add(1)
	if w.closed.Load() {
		w.senders.Add(-1)
		return errClosed
	}
	w.queue <- j
	w.senders.Add(-1)
	<-j.done
	return nil
}

// commit sends one pipeline for batch and settles every pending item of it.
func (c *committer) commit(ctx context.Context, batch []*job) {
	w := c.w
	c.batch = batch // keep what collect grew for the next commit
	n := 0
	for _, j := range batch {
		for i := range j.items {
			it := &j.items[i]
			if it.status != pending {
				continue
			}
			p := &c.parts[it.part]
			p.items = append(p.items, it)
			if it.key != "" {
				p.keys++
			}
			n++
		}
	}
	pipe := w.rdb.Pipeline()
	for pi := range c.parts {
		if p := &c.parts[pi]; len(p.items) > 0 {
			w.buildArgs(pi, p)
			if w.cfg.WaitReplicas == 0 {
				p.cmd = pipe.Do(ctx, p.args...)
			}
		}
	}
	for _, j := range batch {
		for _, f := range j.failures {
			j.records = append(j.records, pipe.XAdd(ctx, failures.RejectArgs(f, w.cfg.RejectedMaxLen)))
		}
	}
	start := time.Now()
	var err error
	if w.cfg.WaitReplicas > 0 {
		err = c.sendWaited(ctx)
	}
	cmds, perr := pipe.Exec(ctx)
	err = cmp.Or(err, perr)
	w.m.roundTrip.Observe(time.Since(start).Seconds())
	w.m.commitSize.Observe(float64(n))
	// A Redis that forgot append.lua (restart, failover, SCRIPT FLUSH) ran none of the calls it
	// answered NOSCRIPT: they alone are sent again. A NOSCRIPT fails Exec, so a commit that
	// succeeded skips this.
	if perr != nil && w.cfg.WaitReplicas == 0 {
		c.sent = c.sent[:0]
		for pi := range c.parts {
			c.sent = append(c.sent, c.parts[pi].cmd)
		}
		start = time.Now()
		if resent, rerr := luascript.Resend(ctx, w.rdb, appendScript, c.sent); resent {
			w.m.roundTrip.Observe(time.Since(start).Seconds())
			err = rerr
			for pi, cmd := range c.sent {
				c.parts[pi].cmd = cmd
			}
		}
	}
	w.logHealth(cmds, err)
	for pi := range c.parts {
		if p := &c.parts[pi]; len(p.items) > 0 {
			w.settle(p)
			clear(p.items)
			clear(p.args)
			p.items, p.args, p.keys, p.cmd, p.unconfirmed = p.items[:0], p.args[:0], 0, nil, false
		}
	}
	for _, j := range batch {
		for _, r := range j.records {
			j.recordErr = cmp.Or(j.recordErr, r.Err())
		}
		clear(j.records)
		j.records = j.records[:0]
		j.done <- struct{}{} // from here on the job belongs to its request again
	}
	clear(batch)
}

// sendWaited sends the appends with WAIT (Config.WaitReplicas): per master, its partitions'
// calls and then WAIT on one connection, since WAIT counts the replicas that have the
// connection's own writes; masters in parallel. It returns the first error seen; each
// partition keeps its own outcome in cmd and unconfirmed.
func (c *committer) sendWaited(ctx context.Context) error {
	w := c.w
	nodes := map[*redis.Client][]*partition{}
	var errs []error
	for pi := range c.parts {
		p := &c.parts[pi]
		if len(p.items) == 0 {
			continue
		}
		node, err := w.master(ctx, w.cfg.Layout.Stream(pi))
		if err != nil { // no slot map: nothing was sent
			p.cmd = redis.NewCmd(ctx)
			p.cmd.SetErr(fmt.Errorf("%w: %w", errNoMaster, err))
			errs = append(errs, err)
			continue
		}
		nodes[node] = append(nodes[node], p)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for node, parts := range nodes {
		wg.Go(func() {
			if err := w.appendAndWait(ctx, node, parts); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// errNoMaster: the writer could not tell which master holds a partition; nothing was sent.
var errNoMaster = errors.New("no master known for the partition")

// master is the client of the master holding key: the node itself for a single Redis.
func (w *Writer) master(ctx context.Context, key string) (*redis.Client, error) {
	switch rdb := w.rdb.(type) {
	case *redis.ClusterClient:
		return rdb.MasterForKey(ctx, key)
	case *redis.Client:
		return rdb, nil
	default:
		return nil, fmt.Errorf("ingest: WAIT needs a single Redis or a cluster client, not %T", w.rdb)
	}
}

// appendAndWait runs parts' calls and WAIT on one connection of node. A part whose WAIT did
// not confirm its appends is unconfirmed.
func (w *Writer) appendAndWait(ctx context.Context, node *redis.Client, parts []*partition) error {
	conn := node.Conn()
	defer conn.Close()
	pipe := conn.Pipeline()
	sent := make([]*redis.Cmd, len(parts))
	for i, p := range parts {
		p.cmd = pipe.Do(ctx, p.args...)
		sent[i] = p.cmd
	}
	wait := pipe.Do(ctx, "wait", w.cfg.WaitReplicas, w.cfg.WaitTimeout.Milliseconds())
	_, err := pipe.Exec(ctx)
	if err != nil {
		// NOSCRIPT calls did not run: load the script and send them again on this
		// connection, and WAIT again for what they wrote.
		if resent, rerr := luascript.Resend(ctx, conn, appendScript, sent); resent {
			for i, p := range parts {
				p.cmd = sent[i]
			}
			err = rerr
			wait = conn.Do(ctx, "wait", w.cfg.WaitReplicas, w.cfg.WaitTimeout.Milliseconds())
		}
	}
	acked, werr := wait.Int()
	if werr != nil || acked < w.cfg.WaitReplicas {
		for _, p := range parts {
			p.unconfirmed = true
		}
		w.m.waitUnconfirmed.Inc()
		if werr == nil {
			werr = fmt.Errorf("WAIT %d: %d replicas confirmed within %s", w.cfg.WaitReplicas, acked, w.cfg.WaitTimeout)
		}
	}
	return cmp.Or(err, werr)
}

// buildArgs lays out the append.lua call of partition pi (see the script's header).
func (w *Writer) buildArgs(pi int, p *partition) {
	a := append(p.args[:0], "evalsha", appendScript.Hash(), 1+p.keys, w.streams[pi])
	for _, it := range p.items {
		if it.key != "" {
			a = append(a, &it.key)
		}
	}
	a = append(a, w.ttl, w.maxLen)
	for _, it := range p.items {
		flag := "0"
		if it.key != "" {
			flag = "1"
		}
		mark := len(a)
		a = append(a, flag, 0)
		a = it.ev.AppendArgs(a)
		a[mark+1] = len(a) - mark - 2
	}
	p.args = a
}

// settle gives every item of p its outcome from the script's reply.
func (w *Writer) settle(p *partition) {
	res, err := p.cmd.Result()
	if err != nil {
		settleAll(p.items, outcome(err))
		return
	}
	switch v := res.(type) {
	case int64: // -1: backlog full, nothing appended
		settleAll(p.items, errBacklogFull)
	case []any:
		if len(v) != len(p.items) {
			w.log.Error("ingest: append.lua answered the wrong number of results", "want", len(p.items), "got", len(v))
			settleAll(p.items, errUnconfirmed)
			return
		}
		for i, it := range p.items {
			switch r := v[i].(type) {
			case int64:
				it.status = accepted
				if r == 0 {
					it.status = duplicate
				}
				if p.unconfirmed { // stored on the master, maybe not on the replicas that count
					it.status, it.err = failed, errUnconfirmed
				}
			default: // "!<error>"
				w.log.Warn("ingest: append failed", "stream", w.streams[it.part], "err", r)
				it.status, it.err = failed, errRedisDown
			}
		}
	default:
		settleAll(p.items, errUnconfirmed)
	}
}

// outcome tells a call that certainly did not run from one that may have: only an error
// raised before the command was written (no connection, pool exhausted, client closed), or an
// error reply of Redis itself (the script did not run, or failed before writing: append.lua
// settles every write's error per event), proves that nothing was stored.
func outcome(err error) *events.Error {
	var rerr redis.Error
	var nerr *net.OpError
	switch {
	case errors.As(err, &rerr):
		return errRedisDown
	case errors.As(err, &nerr) && nerr.Op == "dial",
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed), errors.Is(err, errNoMaster):
		return errRedisDown
	default:
		return errUnconfirmed
	}
}

func settleAll(items []*item, err *events.Error) {
	for _, it := range items {
		it.status, it.err = failed, err
	}
}

// logHealth logs when commits start or stop failing, not once per commit.
func (w *Writer) logHealth(cmds []redis.Cmder, err error) {
	switch {
	case err != nil && w.failing.CompareAndSwap(false, true):
		w.log.Warn("ingest: redis commit failing; answering 503", "err", err)
	case err == nil && w.failing.CompareAndSwap(true, false):
		w.log.Info("ingest: redis commits succeed again", "commands", len(cmds))
	}
}
