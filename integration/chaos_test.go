package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// The fault suite (issue "Never wrong under faults"): an oracle workload runs against Pulse
// split into OS processes (two ingest, two counter, one indexer+live) on a Redis reached
// through a fault-injecting proxy, while one family of faults is injected; then every answer
// the clients got is checked against what was stored and counted. One file per family
// (fault_*_test.go); each runs on a single Redis and on a 3-master cluster.
//
// PULSE_CHAOS=long runs the long version (go tool task chaos).

func init() {
	// Redis restarts and dropped connections are this suite's business: go-redis' own log of
	// each failed dial would drown what the tests say.
	redis.SetLogger(quietRedis{})
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// chaosScale is the size of a run: short in go tool task test, long in go tool task chaos.
type chaosScale struct {
	duration time.Duration // of the workload; faults stop with it
	clients  int
	settle   time.Duration // bound on the wait for quiescence: a bound, not an assertion
}

func scale() chaosScale {
	if os.Getenv("PULSE_CHAOS") == "long" {
		return chaosScale{duration: 2 * time.Minute, clients: 8, settle: 10 * time.Minute}
	}
	return chaosScale{duration: 12 * time.Second, clients: 4, settle: 3 * time.Minute}
}

// Settings of every run.
const (
	chaosPartitions = 4
	chaosSubjects   = 120
	chaosTimeout    = time.Second // PULSE_REDIS_TIMEOUT: replies later than this are lost ones
)

// chaosLayout is the deployments': new ones, so balanced tags.
var chaosLayout = events.Layout{Partitions: chaosPartitions, Tags: events.TagsBalanced}

var chaosTypes = []string{"video_liked", "video_viewed"}

// topology is where Redis runs: one server or a cluster, always behind proxies for Pulse.
type topology struct {
	name    string
	url     string // what Pulse connects to: through the proxies
	direct  redis.UniversalClient
	proxies []*testenv.Proxy
	single  *testenv.Redis
	cluster *testenv.Cluster
}

func singleRedis(t *testing.T, fsync string) *topology {
	t.Helper()
	r := testenv.StartRedisWith(t, testenv.RedisOptions{TCP: true, AppendFsync: fsync})
	p := testenv.StartProxy(t, "redis", r.Addr)
	c := redis.NewClient(&redis.Options{Addr: r.Addr, PoolSize: 32})
	t.Cleanup(func() { _ = c.Close() })
	return &topology{name: "single", url: "redis://" + p.Addr, direct: c, proxies: []*testenv.Proxy{p}, single: r}
}

func clusterRedis(t *testing.T, fsync string) *topology {
	t.Helper()
	cl := testenv.StartCluster(t, testenv.ClusterOptions{Proxied: true, AppendFsync: fsync})
	tp := &topology{name: "cluster", url: cl.URL(), direct: cl.Client(t), cluster: cl}
	for _, n := range cl.Nodes {
		tp.proxies = append(tp.proxies, n.Proxy)
	}
	return tp
}

// eachTopology runs f as subtests on a single Redis and on a cluster.
func eachTopology(t *testing.T, fsync string, f func(t *testing.T, tp *topology)) {
	t.Run("single", func(t *testing.T) {
		t.Parallel()
		f(t, singleRedis(t, fsync))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		f(t, clusterRedis(t, fsync))
	})
}

// pulseProc is one `pulse serve` OS process on a fixed port, so that it can be killed and
// started again at the same address, under the same consumer name.
type pulseProc struct {
	name, roles string
	port        int
	env         []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

func (p *pulseProc) url() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

// setPort sets the port and the PULSE_ADDR that names it (the last PULSE_ADDR wins).
func (p *pulseProc) setPort(port int) {
	p.port = port
	p.env = append(p.env, fmt.Sprintf("PULSE_ADDR=127.0.0.1:%d", port))
}

// start launches the process and waits until it is ready. It reports failures with an
// error, not t.Fatal: fault loops call it from their own goroutine.
func (p *pulseProc) start(t *testing.T) error {
	p.mu.Lock()
	cmd := exec.Command(testenv.PulseBinary(t), "serve")
	cmd.Env = append(os.Environ(), p.env...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: out, mu: &p.mu}, &lockedWriter{w: out, mu: &p.mu}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.out, p.done = cmd, out, done
	p.mu.Unlock()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			return fmt.Errorf("%s exited at start (%v): %s", p.name, cmd.ProcessState, tail(p.output(), 2000))
		default:
		}
		// Another test's server may have taken the port first: its answers are not ours.
		if res, err := http.Get(p.url() + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK && testenv.Listens(cmd.Process.Pid, p.port) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s not ready after 60s", p.name)
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *pulseProc) kill() { p.signal(syscall.SIGKILL) }

// stop sends SIGTERM (a graceful stop) and waits for the process to be gone.
func (p *pulseProc) stop() { p.signal(syscall.SIGTERM) }

func (p *pulseProc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	<-done
}

// dump has a failed run's process print every goroutine (SIGQUIT), and keeps its whole
// output in a file beside the test's, named in the log.
func (p *pulseProc) dump(t *testing.T) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd != nil && cmd.Process.Signal(syscall.SIGQUIT) == nil {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
	f, err := os.CreateTemp("", "pulse-chaos-"+p.name+"-*.log")
	if err != nil {
		t.Logf("%s output:\n%s", p.name, tail(p.output(), 4000))
		return
	}
	defer f.Close()
	_, _ = f.WriteString(p.output())
	t.Logf("%s output (with its goroutines): %s", p.name, f.Name())
}

func (p *pulseProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// deployment is Pulse split by role into processes.
type deployment struct {
	t       *testing.T
	tp      *topology
	ingest  []*pulseProc
	counter []*pulseProc
	indexer *pulseProc // and live, unless live runs apart
	live    *pulseProc // the live process when it runs apart from the indexer, else nil
	all     []*pulseProc
	rec     *recorder
	// restarted: some process was killed and started again (its metrics started over).
	restarted bool
	// mayLose: the faults may lose acknowledged writes (a failover without WAIT, a Redis
	// crash under everysec): the oracle reports lost events instead of failing on them.
	mayLose bool
}

// deployOptions vary a deployment.
type deployOptions struct {
	env []string // added to every process's environment
	// indexerLater runs live apart and starts the indexer only at startIndexer, so that the
	// streams keep every entry (the trimmer cuts only what every group has acknowledged)
	// until the oracle takes its record of them with snapshot: a failover can take back
	// entries a live recorder would already have read.
	indexerLater bool
}

// baseEnv is every process's configuration, before its role and port.
func baseEnv(t *testing.T, redisURL string) []string {
	return []string{
		"PULSE_REDIS_URL=" + redisURL,
		"PULSE_PARTITIONS=" + strconv.Itoa(chaosPartitions),
		"PULSE_REDIS_TIMEOUT=" + chaosTimeout.String(),
		"PULSE_DATA_DIR=" + t.TempDir(),
		"PULSE_LOG_LEVEL=warn",
	}
}

func deploy(t *testing.T, tp *topology) *deployment {
	t.Helper()
	return deployWith(t, tp, deployOptions{})
}

func deployWith(t *testing.T, tp *topology, opts deployOptions) *deployment {
	t.Helper()
	d := &deployment{t: t, tp: tp}
	add := func(name, roles string) *pulseProc {
		p := &pulseProc{name: name, roles: roles}
		p.env = append(append(baseEnv(t, tp.url), opts.env...), "PULSE_ROLES="+roles, "PULSE_CONSUMER_NAME="+name)
		p.setPort(testenv.FreePort(t))
		return p
	}
	d.ingest = []*pulseProc{add("ingest-a", "ingest"), add("ingest-b", "ingest")}
	d.counter = []*pulseProc{add("counter-a", "counter"), add("counter-b", "counter")}
	procs := append(slices.Clone(d.ingest), d.counter...)
	if opts.indexerLater {
		d.live, d.indexer = add("live", "live"), add("indexer", "indexer")
		procs = append(procs, d.live)
	} else {
		d.indexer = add("indexer", "indexer,live")
		procs = append(procs, d.indexer)
	}
	for _, p := range procs {
		d.launch(p)
	}
	if !opts.indexerLater {
		d.rec = record(t, tp)
	}
	t.Cleanup(func() {
		for _, p := range d.all {
			if t.Failed() {
				p.dump(t)
			}
			p.kill()
		}
	})
	return d
}

// launch starts p and adds it to the deployment's processes.
func (d *deployment) launch(p *pulseProc) {
	d.t.Helper()
	err := p.start(d.t)
	// FreePort's port taken before the process bound it: another one (processes keep their
	// port once started, so that a restart finds them at the same address).
	for try := 0; err != nil && strings.Contains(p.output(), "address already in use") && try < 3; try++ {
		p.setPort(testenv.FreePort(d.t))
		err = p.start(d.t)
	}
	if err != nil {
		d.t.Fatal(err)
	}
	d.all = append(d.all, p)
}

// startIndexer takes the oracle's record of the streams, then starts the indexer of a
// deployment made with indexerLater.
func (d *deployment) startIndexer() {
	d.t.Helper()
	d.rec = snapshot(d.t, d.tp)
	d.launch(d.indexer)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// outcome is what a client knows of an event after its last answer.
type outcome uint8

const (
	unanswered outcome = iota
	stored             // answered accepted, or duplicate after an unconfirmed attempt: stored once
	rejected           // answered 4xx: stored nowhere
	maybe              // no id and no confirmation: stored at most once
)

// chaosEvent is one logical event of the workload: every send of it carries the same marker.
type chaosEvent struct {
	marker, id   string // id "" for an event without client id
	typ, subject string
	time         int64
	valid        bool
	outcome      outcome
	unconfirmed  bool // an attempt may have stored it: a later "duplicate" confirms it
}

// body is the event as sent; CloudEvents bodies add their attributes.
func (e *chaosEvent) body(cloud bool) map[string]any {
	m := map[string]any{"type": e.typ, "subject": e.subject, "time": e.time, "data": map[string]any{"m": e.marker}}
	if e.id != "" {
		m["id"] = e.id
	}
	if cloud {
		m["specversion"], m["source"] = "1.0", "/chaos"
	}
	return m
}

// history is what the clients sent and were answered, the oracle's input.
type history struct {
	mu         sync.Mutex
	events     map[string]*chaosEvent // by marker
	confirmed  []*chaosEvent          // stored with a client id: what clients repeat
	violations []string               // answers that are wrong by themselves

	requests, retries, repeats, malformed atomic.Int64
	transport, refused                    atomic.Int64
	statuses                              sync.Map // "202", "503 unconfirmed"… → *atomic.Int64
	lastAnswer                            atomic.Int64
	// mayLose: stored events may be lost (see deployment.mayLose); one accepted again after it
	// was stored is counted in reaccepted, not a violation.
	mayLose    bool
	reaccepted atomic.Int64
}

func newHistory() *history { return &history{events: map[string]*chaosEvent{}} }

func (h *history) count(key string) {
	v, _ := h.statuses.LoadOrStore(key, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (h *history) violate(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.violations) < 50 {
		h.violations = append(h.violations, fmt.Sprintf(format, args...))
	}
}

// client is one producer: it sends requests in the formats Pulse takes and retries what was
// not confirmed, as an SDK does: events with ids until they are, events without an id only
// when the answer says they were not stored.
type client struct {
	n    int
	h    *history
	urls func() []string
	rng  *rand.Rand
	seq  int
	http *http.Client
}

func (c *client) newEvent() *chaosEvent {
	c.seq++
	now := time.Now().UnixMilli()
	e := &chaosEvent{
		marker:  fmt.Sprintf("c%d-%d", c.n, c.seq),
		typ:     chaosTypes[c.rng.IntN(len(chaosTypes))],
		subject: fmt.Sprintf("v%d", min(c.rng.IntN(chaosSubjects), c.rng.IntN(chaosSubjects))), // skewed
		time:    now - c.rng.Int64N(20_000),
		valid:   true,
	}
	switch r := c.rng.IntN(100); {
	case r < 25: // no client id
	case r < 27: // an invalid item: rejected, stored nowhere
		e.id, e.typ, e.valid = e.marker, "Not A Type", false
	default:
		e.id = e.marker
	}
	if c.rng.IntN(100) < 2 {
		e.time = now - 15*60_000 // late: history, not windows
	}
	c.h.mu.Lock()
	c.h.events[e.marker] = e
	c.h.mu.Unlock()
	return e
}

// run sends requests until ctx ends, then returns once every event has its final answer.
func (c *client) run(ctx context.Context) {
	for ctx.Err() == nil {
		var batch []*chaosEvent
		repeats := map[*chaosEvent]bool{}
		for range 1 + c.rng.IntN(12) {
			if c.rng.IntN(100) < 5 {
				c.h.mu.Lock()
				if n := len(c.h.confirmed); n > 0 {
					e := c.h.confirmed[c.rng.IntN(n)]
					repeats[e] = true
					batch = append(batch, e)
				}
				c.h.mu.Unlock()
				continue
			}
			batch = append(batch, c.newEvent())
		}
		if len(batch) == 0 {
			continue
		}
		c.h.repeats.Add(int64(len(repeats)))
		if c.rng.IntN(100) < 1 {
			c.sendMalformed()
		}
		c.send(batch, repeats)
		time.Sleep(time.Duration(5+c.rng.IntN(20)) * time.Millisecond)
	}
}

// sendMalformed posts a body that is not JSON: 400, nothing stored.
func (c *client) sendMalformed() {
	c.h.malformed.Add(1)
	urls := c.urls()
	res, err := c.http.Post(urls[c.rng.IntN(len(urls))]+"/v1/events", "application/json", strings.NewReader(`[{"type":"video_liked",`))
	if err != nil {
		return
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		c.h.violate("a malformed body was answered %d", res.StatusCode)
	}
}

// send posts batch (in a random format) and retries what needs it until every event has an
// outcome. repeats are events already stored: they must come back duplicate.
func (c *client) send(batch []*chaosEvent, repeats map[*chaosEvent]bool) {
	giveUp := time.Now().Add(90 * time.Second)
	for attempt := 0; len(batch) > 0; attempt++ {
		if attempt > 0 {
			c.h.retries.Add(int64(len(batch)))
			if time.Now().After(giveUp) {
				for _, e := range batch {
					c.h.violate("event %s (id %q) still unconfirmed after 90 s of retries", e.marker, e.id)
				}
				return
			}
			time.Sleep(time.Duration(200+c.rng.IntN(800)) * time.Millisecond)
		}
		batch = c.attempt(batch, repeats, attempt > 0)
	}
}

// attempt sends batch once and returns the events to send again.
func (c *client) attempt(batch []*chaosEvent, repeats map[*chaosEvent]bool, retry bool) []*chaosEvent {
	c.h.requests.Add(1)
	body, ctype := c.encode(batch, retry)
	urls := c.urls()
	req, _ := http.NewRequest(http.MethodPost, urls[c.rng.IntN(len(urls))]+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	res, err := c.http.Do(req)
	if err != nil {
		// No answer. A refused connection never reached Pulse: nothing stored. Anything else
		// may have been taken.
		notSent := errors.Is(err, syscall.ECONNREFUSED)
		if notSent {
			c.h.refused.Add(1)
		} else {
			c.h.transport.Add(1)
		}
		return c.unanswered(batch, notSent)
	}
	defer res.Body.Close()
	c.h.lastAnswer.Store(time.Now().UnixNano())
	var ans struct {
		ingestAnswer
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &ans); err != nil {
		c.h.violate("answer %d is not JSON: %.200s", res.StatusCode, raw)
		return c.unanswered(batch, false)
	}
	results := ans.Results
	code := ""
	if ans.Error != nil {
		code = ans.Error.Code
		if ans.Error.Details != nil {
			results = ans.Error.Details.Results
		}
	}
	c.h.count(strings.TrimSpace(fmt.Sprintf("%d %s", res.StatusCode, code)))
	if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
		c.h.violate("a 503 %s came without Retry-After", code)
	}
	if len(results) != len(batch) {
		if res.StatusCode == http.StatusServiceUnavailable {
			return c.unanswered(batch, false) // e.g. a process shutting down: treat as unknown
		}
		c.h.violate("answer %d %s has %d results for %d events", res.StatusCode, code, len(results), len(batch))
		return nil
	}
	var again []*chaosEvent
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	for i, r := range results {
		e := batch[i]
		switch r.Status {
		case "accepted":
			switch {
			case (repeats[e] || e.outcome == stored) && c.h.mayLose:
				c.h.reaccepted.Add(1) // its first copy was lost: this one replaces it
			case repeats[e] || e.outcome == stored:
				c.h.violate("event %s (id %q) stored again: accepted after it was stored", e.marker, e.id)
			}
			if !e.valid {
				c.h.violate("invalid event %s accepted", e.marker)
			}
			c.storedLocked(e)
		case "duplicate":
			switch {
			case repeats[e]:
			case e.unconfirmed:
				c.storedLocked(e) // the earlier, unconfirmed attempt stored it
			default:
				c.h.violate("event %s (id %q) answered duplicate on its first confirmed attempt", e.marker, e.id)
				c.storedLocked(e)
			}
		case "rejected":
			if e.valid {
				c.h.violate("valid event %s rejected: %+v", e.marker, r.Error)
			}
			e.outcome = rejected
		case "failed":
			errCode := ""
			if r.Error != nil {
				errCode = r.Error.Code
			}
			if again = c.failedLocked(e, errCode == "unconfirmed", again); e.id == "" && r.ID != "" {
				c.h.violate("a failed event without id was given the id %q", r.ID)
			}
		default:
			c.h.violate("event %s: status %q", e.marker, r.Status)
		}
	}
	return again
}

func (c *client) storedLocked(e *chaosEvent) {
	if e.outcome != stored {
		e.outcome = stored
		if e.id != "" {
			c.h.confirmed = append(c.h.confirmed, e)
		}
	}
}

// failedLocked settles an event that was not confirmed: with an id it is sent again; without,
// only when it certainly was not stored.
func (c *client) failedLocked(e *chaosEvent, mayBeStored bool, again []*chaosEvent) []*chaosEvent {
	if e.outcome == stored { // a repeat that could not be checked this time: nothing to do
		return again
	}
	if mayBeStored {
		e.unconfirmed = true
	}
	if e.id == "" && e.unconfirmed {
		e.outcome = maybe
		return again
	}
	return append(again, e)
}

func (c *client) unanswered(batch []*chaosEvent, notSent bool) []*chaosEvent {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	var again []*chaosEvent
	for _, e := range batch {
		again = c.failedLocked(e, !notSent, again)
	}
	return again
}

// encode lays batch out in one of the formats Pulse takes; retries go as a JSON array.
func (c *client) encode(batch []*chaosEvent, retry bool) ([]byte, string) {
	format := c.rng.IntN(4)
	if retry {
		format = 0
	}
	if len(batch) == 1 && format == 0 && c.rng.IntN(2) == 0 {
		b, _ := json.Marshal(batch[0].body(false))
		return b, "application/json"
	}
	switch format {
	case 1:
		var buf bytes.Buffer
		for _, e := range batch {
			b, _ := json.Marshal(e.body(false))
			buf.Write(b)
			buf.WriteByte('\n')
		}
		return buf.Bytes(), "application/x-ndjson"
	case 2:
		if len(batch) == 1 {
			b, _ := json.Marshal(batch[0].body(true))
			return b, "application/cloudevents+json"
		}
		fallthrough
	case 3:
		items := make([]map[string]any, len(batch))
		for i, e := range batch {
			items[i] = e.body(true)
		}
		b, _ := json.Marshal(items)
		return b, "application/cloudevents-batch+json"
	default:
		items := make([]map[string]any, len(batch))
		for i, e := range batch {
			items[i] = e.body(false)
		}
		b, _ := json.Marshal(items)
		return b, "application/json"
	}
}

// runWorkload runs the clients against the ingest processes for the scale's duration while
// faults runs, and returns once every client has its final answers.
// faults injects its family's faults until ctx ends and returns what it injected, for the report.
func runWorkload(t *testing.T, d *deployment, faults func(ctx context.Context) string) *history {
	t.Helper()
	sc := scale()
	h := newHistory()
	h.mayLose = d.mayLose
	urls := func() []string {
		out := make([]string, len(d.ingest))
		for i, p := range d.ingest {
			out[i] = p.url()
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), sc.duration)
	defer cancel()
	var wg sync.WaitGroup
	for n := range sc.clients {
		c := &client{n: n, h: h, urls: urls, rng: rand.New(rand.NewPCG(uint64(n), uint64(time.Now().UnixNano()))),
			http: &http.Client{Timeout: 10 * time.Second}}
		wg.Go(func() { c.run(ctx) })
	}
	injected := faults(ctx)
	wg.Wait()
	h.report(t, injected)
	return h
}

// report is the run's figures, logged, and kept for the closing figures of a long run.
func (h *history) report(t *testing.T, faults string) {
	t.Helper()
	var st []string
	h.statuses.Range(func(k, v any) bool {
		st = append(st, fmt.Sprintf("%s×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	n := map[outcome]int{}
	h.mu.Lock()
	for _, e := range h.events {
		n[e.outcome]++
	}
	total := len(h.events)
	h.mu.Unlock()
	t.Logf("workload: %d events (%d stored, %d rejected, %d ambiguous without id), %d requests, %d retries, %d repeats, %d malformed bodies, "+
		"%d requests without answer, %d refused connections; answers %s; faults %s",
		total, n[stored], n[rejected], n[maybe], h.requests.Load(), h.retries.Load(), h.repeats.Load(), h.malformed.Load(),
		h.transport.Load(), h.refused.Load(), strings.Join(st, ", "), faults)
}
