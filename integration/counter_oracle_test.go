package integration

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	api "github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/consumers/counter"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/testenv"
)

// The oracle test's deployment.
const (
	oraclePartitions = 4
	// Short windows, so that decay is seen within the test; the longest outlasts the posting
	// even on a loaded machine, so that the final check compares counts that are not all 0.
	oracleWindows   = "2s,4s,30s"
	oracleMaxFuture = 3 * time.Second
	oracleEvents    = 50_000
	oracleSubjects  = 600
	oracleBatch     = 500
)

var oracleTypes = []string{"video_liked", "video_viewed"}

// oracleLayout is the deployments': new ones, so balanced tags.
var oracleLayout = events.Layout{Partitions: oraclePartitions, Tags: events.TagsBalanced}

// TestCounterOracle posts ≥ 50,000 events (Zipf-skewed over 600 subjects per type, times from
// 12 s ago to 2.5 s ahead, 5% repeated client ids) through the ingest API while three
// in-process counters are cancelled and restarted at random and a fourth, a separate pulse
// process, is killed with SIGKILL. Then every window count, leaderboard and history count must
// equal an in-memory oracle at the second each read reports, and the windows must fall to 0.
func TestCounterOracle(t *testing.T) {
	t.Parallel()
	begin := time.Now()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ws, err := events.ParseWindows(oracleWindows)
	if err != nil {
		t.Fatal(err)
	}

	rds := testenv.StartRedis(t)
	ingest := Start(t, rds, func(c *app.Config) {
		c.Roles = []string{"ingest"}
		c.Partitions = oraclePartitions
		c.Windows = oracleWindows
		c.MaxFuture = oracleMaxFuture
	})
	rdb := oracleClient(t, rds.URL)
	proc := startCounterProcess(t, rds.URL)
	churn := startChurn(t, rdb, ws, 3)

	o := &oracle{times: map[[2]string][]int64{}}
	// The process is killed at a random point of the production, while events keep coming, and
	// preferably while it holds entries it has read and not yet applied.
	killAt := oracleEvents * (30 + rng.IntN(40)) / 100
	startKill, killed := make(chan struct{}), make(chan struct{})
	go func(start <-chan struct{}) {
		defer close(killed)
		<-start
		proc.kill(t, rdb)
	}(startKill)
	posted, repeats := 0, 0
	start := time.Now()
	t.Logf("set up in %s", start.Sub(begin).Round(time.Millisecond))
	var sent []postedEvent
	zipf := rand.NewZipf(rng, 1.1, 2, oracleSubjects-1)
	for posted < oracleEvents {
		batch := make([]postedEvent, 0, oracleBatch)
		for range oracleBatch {
			if len(sent) > 0 && rng.IntN(100) < 5 {
				again := sent[rng.IntN(len(sent))] // a client retrying an event
				again.repeat = true
				batch = append(batch, again)
				repeats++
				continue
			}
			now := time.Now().UnixMilli()
			batch = append(batch, postedEvent{
				ID:      fmt.Sprintf("e%d", posted+len(batch)),
				Type:    oracleTypes[rng.IntN(len(oracleTypes))],
				Subject: fmt.Sprintf("video-%d", zipf.Uint64()),
				Time:    now - 12_000 + rng.Int64N(14_500),
			})
		}
		o.post(t, ingest.URL, batch)
		sent = append(sent, batch...)
		posted += len(batch)
		if startKill != nil && posted >= killAt {
			close(startKill)
			startKill = nil
		}
	}
	<-killed
	t.Logf("posted %d events in %s (%d accepted, %d repeats answered duplicate)", posted, time.Since(start).Round(time.Millisecond), o.accepted, o.duplicates)
	if o.duplicates != repeats || o.accepted+o.duplicates != posted {
		t.Fatalf("ingest answered %d accepted, %d duplicates; posted %d with %d repeats", o.accepted, o.duplicates, posted, repeats)
	}

	churn.steady() // stop killing: let the group drain
	testenv.WaitFor(t, 90*time.Second, "every entry applied", func() bool { return drained(t, rdb, o.accepted) })
	t.Logf("drained %s after the start; %d counter restarts", time.Since(start).Round(time.Millisecond), churn.restarts.Load())

	r := counter.NewReader(rdb, oracleLayout, ws)
	ctx := context.Background()
	for _, typ := range oracleTypes {
		o.checkWindows(t, r, typ, ws)
		for w := range ws {
			o.checkTop(t, r, typ, ws, w, 10)
			o.checkTop(t, r, typ, ws, w, oracleSubjects)
		}
		o.checkHistory(t, r, typ)
	}
	if items, _, err := failures.List(ctx, rdb, events.FailedStream, 10, ""); err != nil || len(items) != 0 {
		t.Errorf("failure stream: %v, %v; want empty", items, err)
	}

	t.Logf("checked %s after the start", time.Since(start).Round(time.Millisecond))
	testenv.WaitFor(t, 90*time.Second, "every window count back to 0", func() bool {
		for _, typ := range oracleTypes {
			_, counts, _, err := r.Windows(ctx, typ, subjects())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range counts {
				if slices.ContainsFunc(c.Counts, func(n int64) bool { return n != 0 }) {
					return false
				}
			}
		}
		return true
	})
	t.Logf("decayed %s after the start", time.Since(start).Round(time.Millisecond))
	for _, typ := range oracleTypes {
		for w := range ws {
			if _, top, err := r.Top(ctx, typ, w, 10); err != nil || len(top) != 0 {
				t.Errorf("%s top %s after decay: %v, %v", typ, ws[w].Name, top, err)
			}
		}
	}
}

type postedEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Time    int64  `json:"time"`
	repeat  bool   // a copy of an event sent in an earlier batch
}

// oracle holds the accepted events: the truth the counter must match.
type oracle struct {
	times                map[[2]string][]int64 // (type, subject) → event times (unix ms)
	accepted, duplicates int
}

// post sends batch as a client would: events answered failed (503: Redis unavailable or the
// append unconfirmed, as a loaded machine may time out) are sent again with their ids, after
// the answer's Retry-After, until each is accepted or a duplicate. A duplicate of a new event
// that failed before is that event stored by the failed attempt: accepted, once (a repeat's
// duplicate is the earlier batch's event).
func (o *oracle) post(t *testing.T, url string, batch []postedEvent) {
	t.Helper()
	pending := make([]int, len(batch))
	for i := range pending {
		pending[i] = i
	}
	failed := map[int]bool{}
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 1 {
			if attempt > 60 {
				t.Fatalf("%d events still failed after %d attempts", len(pending), attempt-1)
			}
			time.Sleep(time.Second)
		}
		send := make([]postedEvent, len(pending))
		for j, i := range pending {
			send[j] = batch[i]
		}
		body, _ := json.Marshal(send)
		res, err := http.Post(url+"/v1/events", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			api.Answer
			Error *struct {
				Details *api.Answer `json:"details"`
			} `json:"error"`
		}
		err = json.NewDecoder(res.Body).Decode(&ans)
		res.Body.Close()
		results := ans.Results
		if ans.Error != nil && ans.Error.Details != nil && res.StatusCode == http.StatusServiceUnavailable {
			results = ans.Error.Details.Results
		}
		if err != nil || len(results) != len(send) {
			t.Fatalf("ingest answered %d: %+v, %v", res.StatusCode, ans, err)
		}
		next := pending[:0]
		for j, r := range results {
			i := pending[j]
			e := batch[i]
			switch {
			case r.Status == api.StatusAccepted || r.Status == api.StatusDuplicate && failed[i] && !e.repeat:
				o.times[[2]string{e.Type, e.Subject}] = append(o.times[[2]string{e.Type, e.Subject}], e.Time)
				o.accepted++
			case r.Status == api.StatusDuplicate:
				o.duplicates++
			case r.Status == api.StatusFailed:
				failed[i] = true
				next = append(next, i)
			default:
				t.Fatalf("event %+v: %s", e, r.Status)
			}
		}
		pending = next
	}
}

// counts are the oracle's window counts at unix ms at.
func (o *oracle) counts(typ, subject string, at int64, ws []events.Window) []int64 {
	return testenv.WindowCounts(at, o.times[[2]string{typ, subject}], ws)
}

func (o *oracle) checkWindows(t *testing.T, r *counter.Reader, typ string, ws []events.Window) {
	t.Helper()
	at, counts, versions, err := r.Windows(context.Background(), typ, subjects())
	if err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for _, c := range counts {
		want := o.counts(typ, c.Subject, at, ws)
		if !slices.Equal(c.Counts, want) {
			t.Errorf("%s %s at %d: counts %v, oracle %v", typ, c.Subject, at, c.Counts, want)
		}
		if want[len(want)-1] > 0 {
			nonzero++
		}
	}
	if nonzero == 0 || len(versions) != oraclePartitions {
		t.Errorf("%s: %d subjects counted in the longest window, versions %v: the check compared nothing", typ, nonzero, versions)
	}
	t.Logf("%s: %d subjects exact at %d, %d of them counted", typ, len(counts), at, nonzero)
}

func (o *oracle) checkTop(t *testing.T, r *counter.Reader, typ string, ws []events.Window, w, limit int) {
	t.Helper()
	at, top, err := r.Top(context.Background(), typ, w, limit)
	if err != nil {
		t.Fatal(err)
	}
	var want []api.Entry
	for _, s := range subjects() {
		if n := o.counts(typ, s, at, ws)[w]; n > 0 {
			want = append(want, api.Entry{Subject: s, Count: n})
		}
	}
	slices.SortFunc(want, func(a, b api.Entry) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Subject, b.Subject))
	})
	want = want[:min(limit, len(want))]
	if !slices.Equal(top, want) {
		t.Errorf("%s top %d of window %d at %d:\n got %v\nwant %v", typ, limit, w, at, top, want)
	}
}

// checkHistory compares per-minute history of the type and every subject's total.
func (o *oracle) checkHistory(t *testing.T, r *counter.Reader, typ string) {
	t.Helper()
	ctx := context.Background()
	perMinute := map[int64]int64{}
	var lo, hi int64 = 1 << 62, 0
	for k, times := range o.times {
		if k[0] != typ {
			continue
		}
		for _, tm := range times {
			perMinute[tm/60_000]++
			lo, hi = min(lo, tm), max(hi, tm)
		}
	}
	from, to := lo-60_000, hi+60_000
	rg, err := r.History(ctx, typ, "", from, to, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, pt := range rg.Series {
		if want := perMinute[pt.T/60_000]; pt.Count != want {
			t.Errorf("%s history minute %d: %d, oracle %d", typ, pt.T, pt.Count, want)
		}
		total += pt.Count
	}
	if total != rg.Count {
		t.Errorf("%s history: series sums to %d, count %d", typ, total, rg.Count)
	}
	for _, s := range subjects() {
		rg, err := r.History(ctx, typ, s, from, to, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(o.times[[2]string{typ, s}])); rg.Count != want {
			t.Errorf("%s %s history: %d, oracle %d", typ, s, rg.Count, want)
		}
	}
}

func subjects() []string {
	out := make([]string, oracleSubjects)
	for i := range out {
		out[i] = fmt.Sprintf("video-%d", i)
	}
	return out
}

func oracleClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.PoolSize = 64 // blocked readers of four consumers, settles, reads
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// drained reports whether the counter group has acknowledged every one of the n entries.
func drained(t *testing.T, rdb redis.UniversalClient, n int) bool {
	t.Helper()
	var read, pending int64
	for p := range oraclePartitions {
		gs, err := rdb.XInfoGroups(context.Background(), oracleLayout.Stream(p)).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g.Name == events.GroupCounter {
				read += g.EntriesRead
				pending += g.Pending
			}
		}
	}
	return read == int64(n) && pending == 0
}

// churn runs in-process counters, cancelling and restarting each at random moments (so,
// often in the middle of a batch) until steady is called.
type churn struct {
	stop     chan struct{}
	restarts atomic.Int64
}

func startChurn(t *testing.T, rdb *redis.Client, ws []events.Window, n int) *churn {
	t.Helper()
	ch := &churn{stop: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			cfg := counter.Config{
				Layout: oracleLayout, Windows: ws, MaxFuture: oracleMaxFuture, Tick: 100 * time.Millisecond,
				Group: consumers.Config{
					Consumer: fmt.Sprintf("c%d", i+1), Block: 100 * time.Millisecond,
					ClaimIdle: time.Second, RetryDelay: 100 * time.Millisecond,
				},
				Logger: Logger(t),
			}
			for {
				c, err := counter.New(rdb, cfg)
				if err != nil {
					t.Error(err)
					return
				}
				cctx, stop := context.WithCancel(ctx)
				done := make(chan error, 1)
				go func() { done <- c.Run(cctx) }()
				steady := false
				select {
				case <-time.After(time.Duration(50+rng.IntN(500)) * time.Millisecond):
				case <-ch.stop:
					steady = true
					<-ctx.Done()
				case <-ctx.Done():
					steady = true
				}
				stop()
				if err := <-done; err != nil {
					t.Errorf("counter c%d: %v", i+1, err)
				}
				if steady {
					return
				}
				ch.restarts.Add(1)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return ch
}

func (c *churn) steady() { close(c.stop) }

// counterProcess is `pulse serve --roles counter` as a separate OS process.
type counterProcess struct {
	cmd *exec.Cmd
	out *bytes.Buffer
}

func startCounterProcess(t *testing.T, redisURL string) *counterProcess {
	t.Helper()
	cmd := exec.Command(testenv.PulseBinary(t), "serve")
	cmd.Env = append(os.Environ(),
		"PULSE_ROLES=counter",
		"PULSE_REDIS_URL="+redisURL,
		"PULSE_ADDR=127.0.0.1:0",
		"PULSE_PARTITIONS="+fmt.Sprint(oraclePartitions),
		"PULSE_WINDOWS="+oracleWindows,
		"PULSE_MAX_FUTURE="+oracleMaxFuture.String(),
		"PULSE_CLAIM_IDLE=1s",
		"PULSE_DATA_DIR="+t.TempDir(),
		"PULSE_LOG_LEVEL=warn",
	)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &counterProcess{cmd: cmd, out: out}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("counter process output:\n%s", out)
		}
	})
	return p
}

// kill sends SIGKILL once the process consumes (its consumer shows in the group), preferably
// while it holds entries it has read and not yet applied. It runs beside the producer, so it
// reports with t.Error, never t.Fatal.
func (p *counterProcess) kill(t *testing.T, rdb *redis.Client) {
	t.Helper()
	name, _ := os.Hostname()
	held := func() (found bool, n int64) {
		for part := range oraclePartitions {
			cs, _ := rdb.XInfoConsumers(context.Background(), oracleLayout.Stream(part), events.GroupCounter).Result()
			for _, c := range cs {
				if c.Name == name {
					found = true
					n += c.Pending
				}
			}
		}
		return found, n
	}
	var n int64
	consuming := time.Time{} // when its consumer first showed
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		found, m := held()
		if found && consuming.IsZero() {
			consuming = time.Now()
		}
		if m > 0 || (found && time.Since(consuming) > 10*time.Second) {
			n = m
			break
		}
	}
	if consuming.IsZero() {
		t.Error("the counter process never joined the group")
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Error(err)
		return
	}
	_ = p.cmd.Wait()
	t.Logf("counter process killed with SIGKILL holding %d pending entries", n)
}
