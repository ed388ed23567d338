package loadgen

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/coder/websocket"
)

// Fan-out targets: the same clients and publisher against pulse, or against Centrifugo relaying
// the same events (the reference of BENCHMARKS.md).
const (
	TargetPulse      = "pulse"
	TargetCentrifugo = "centrifugo"
)

// FanoutConfig is the fan-out comparison: Clients WebSockets, client i subscribed to subject
// i mod Subjects; a publisher sends Rate events/s over the subjects (Zipf), what is due every
// Tick in one request; each event must reach every subscriber of its subject. Pulse delivers
// counts (a frame whose count grew by 2 delivers 2 events); Centrifugo delivers each event as a
// publication carrying its number.
type FanoutConfig struct {
	Target string // TargetPulse or TargetCentrifugo
	URL    string // the server's base URL: pulse's, or Centrifugo's (its /api and /connection/websocket)
	APIKey string // pulse: sent as a Bearer token; Centrifugo: its HTTP API key ("" when http_api is insecure)
	// PublishURL is where events are sent, when not to URL: pulse's ingest role in another
	// process than its live role.
	PublishURL string

	Clients  int
	Subjects int     // default 100
	Zipf     float64 // popularity skew of the events over the subjects
	Rate     float64 // events per second; 0 = none (an idle run)
	Tick     time.Duration
	Duration time.Duration
	Idle     time.Duration // before publishing, how long the connected clients sit idle (IdleCPU)
	Settle   time.Duration // longest wait for the last deliveries
	Type     string        // pulse's event type
	Window   string        // pulse's window whose count is followed (the longest: it only grows during a run)
	Seed     uint64

	// ServerPID, when set, is the server process (on this machine): the run reports the CPU it
	// spent idle and while publishing, until the last delivery.
	ServerPID int
}

// FanoutResult is what a fan-out run measured. Latency is from the publisher's request to a
// client reading the event, one sample per (event, subscriber).
type FanoutResult struct {
	Target     string  `json:"target"`
	Prefix     string  `json:"subject_prefix"`
	Window     string  `json:"window,omitempty"` // pulse's followed window
	Subjects   int     `json:"subjects"`
	Zipf       float64 `json:"zipf"`
	TargetRate float64 `json:"target_rate"`
	Clients    int     `json:"clients"`
	Connected  int     `json:"connected"`

	Events    int64    `json:"events"`
	Published float64  `json:"publish_seconds"`
	Rate      float64  `json:"events_per_sec"`    // achieved
	Requests  int64    `json:"publish_requests"`  // one per tick with events due
	Late      int64    `json:"late_publications"` // requests sent after the next one was due
	HTTP      *Latency `json:"publish_http_ms"`

	Expected   int64    `json:"expected"`  // Σ events × subscribers of their subject
	Delivered  int64    `json:"delivered"` // of those, seen by their subscriber
	Frames     int64    `json:"frames"`    // data frames (Pulse: counts that grew; Centrifugo: publications)
	Latency    *Latency `json:"latency_ms"`
	SettleSecs float64  `json:"settle_seconds"` // from the last publish to the last delivery

	IdleCPU float64 `json:"idle_cores"`     // server cores while the clients sat idle
	CPU     float64 `json:"cpu_seconds"`    // server CPU from the first publish to the last delivery
	CPUPerK float64 `json:"cpu_s_per_1000"` // CPU per 1,000 expected deliveries

	Errors []string `json:"errors,omitempty"` // what went wrong on some connections
}

func (c FanoutConfig) withDefaults() (FanoutConfig, error) {
	var errs []error
	if c.Target != TargetPulse && c.Target != TargetCentrifugo {
		errs = append(errs, fmt.Errorf("target %q: want %s or %s", c.Target, TargetPulse, TargetCentrifugo))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q: want http(s)://host:port", c.URL))
	}
	if c.Clients < 1 {
		errs = append(errs, fmt.Errorf("clients %d: want ≥ 1", c.Clients))
	}
	c.Subjects = cmp.Or(c.Subjects, 100)
	if c.Subjects < 1 || c.Subjects > maxSubjects {
		errs = append(errs, fmt.Errorf("subjects %d: want 1..%d", c.Subjects, maxSubjects))
	}
	if c.Rate < 0 || c.Zipf < 0 {
		errs = append(errs, fmt.Errorf("rate %g, zipf %g: want ≥ 0", c.Rate, c.Zipf))
	}
	c.PublishURL = cmp.Or(c.PublishURL, c.URL)
	c.Tick = cmp.Or(c.Tick, 10*time.Millisecond)
	c.Duration = cmp.Or(c.Duration, 10*time.Second)
	c.Settle = cmp.Or(c.Settle, 30*time.Second)
	c.Type = cmp.Or(c.Type, Defaults().Type)
	c.Window = cmp.Or(c.Window, "10m")
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return c, errors.Join(errs...)
}

// fanout is one run's shared state.
type fanout struct {
	cfg      FanoutConfig
	subjects []string
	// sent[s][k] is when event k+1 of subject s was published (unix ns), stored before its
	// request, so a reader never sees a delivery before its time.
	sent     [][]atomic.Int64
	lat      [16]histogram // sharded by client: thousands of readers record at once
	expected atomic.Int64
	subs     []int64 // subscribers per subject
	frames   atomic.Int64
	got      atomic.Int64
	// lastAt is the unix ns of the latest delivery: the run ends when nothing is missing, or
	// when nothing arrived for a while after the last publish.
	lastAt atomic.Int64

	errMu sync.Mutex
	errs  map[string]int
}

// RunFanout runs the fan-out comparison of cfg.
func RunFanout(ctx context.Context, cfg FanoutConfig) (*FanoutResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	prefix := randomPrefix()
	f := &fanout{cfg: cfg, subs: make([]int64, cfg.Subjects), errs: make(map[string]int)}
	capacity := int(cfg.Rate*cfg.Duration.Seconds()) + int(cfg.Rate*cfg.Tick.Seconds()) + 2
	for s := range cfg.Subjects {
		f.subjects = append(f.subjects, prefix+strconv.Itoa(s))
		f.sent = append(f.sent, make([]atomic.Int64, capacity))
	}
	res := &FanoutResult{Target: cfg.Target, Clients: cfg.Clients, Subjects: cfg.Subjects, TargetRate: cfg.Rate,
		Zipf: cfg.Zipf, Prefix: prefix}
	if cfg.Target == TargetPulse {
		res.Window = cfg.Window
	}

	conns := f.connect(ctx)
	defer closeAll(conns)
	res.Connected = len(conns)
	if res.Connected < cfg.Clients {
		return f.finish(res), fmt.Errorf("fanout: %d of %d clients connected", res.Connected, cfg.Clients)
	}
	if cfg.Idle > 0 {
		c0, t0 := f.cpu(), time.Now()
		select {
		case <-time.After(cfg.Idle):
		case <-ctx.Done():
			return f.finish(res), ctx.Err()
		}
		res.IdleCPU = (f.cpu() - c0) / time.Since(t0).Seconds()
	}
	if cfg.Rate == 0 {
		return f.finish(res), nil
	}

	c0 := f.cpu()
	start := time.Now()
	pub, err := f.publish(ctx, res)
	end := time.Now()
	res.Published = end.Sub(start).Seconds()
	res.HTTP = pub.summary()
	if err != nil {
		return f.finish(res), err
	}
	// Until every expected delivery arrived, or nothing arrived for 5 s, or Settle.
	for deadline := end.Add(cfg.Settle); f.got.Load() < f.expected.Load(); time.Sleep(20 * time.Millisecond) {
		quiet := time.Since(time.Unix(0, f.lastAt.Load())) > 5*time.Second
		if time.Now().After(deadline) || quiet || ctx.Err() != nil {
			break
		}
	}
	last := time.Unix(0, f.lastAt.Load())
	res.CPU = f.cpu() - c0
	res.SettleSecs = max(0, last.Sub(end).Seconds())
	res.Rate = float64(res.Events) / res.Published
	f.finish(res)
	if res.Expected > 0 {
		res.CPUPerK = res.CPU / float64(res.Expected) * 1000
	}
	return res, nil
}

func (f *fanout) cpu() float64 {
	if f.cfg.ServerPID == 0 {
		return 0
	}
	return ProcCPU(f.cfg.ServerPID)
}

func (f *fanout) finish(res *FanoutResult) *FanoutResult {
	res.Expected, res.Delivered, res.Frames = f.expected.Load(), f.got.Load(), f.frames.Load()
	var all histogram
	for i := range f.lat {
		f.lat[i].locked(func(h *hdrhistogram.Histogram) { all.locked(func(a *hdrhistogram.Histogram) { a.Merge(h) }) })
	}
	res.Latency = all.summary()
	f.errMu.Lock()
	for e, n := range f.errs {
		res.Errors = append(res.Errors, fmt.Sprintf("%d× %s", n, e))
	}
	f.errMu.Unlock()
	return res
}

func (f *fanout) fail(err error) {
	f.errMu.Lock()
	f.errs[err.Error()]++
	f.errMu.Unlock()
}

// deliver records that subscriber client saw events from+1..to of subject s at now.
func (f *fanout) deliver(client, s int, from, to int64, now time.Time) {
	h := &f.lat[client%len(f.lat)]
	sent := f.sent[s]
	h.locked(func(hh *hdrhistogram.Histogram) {
		for k := from; k < to && k < int64(len(sent)); k++ {
			us := min(max(now.UnixNano()-sent[k].Load(), 0)/1000, maxLatency)
			_ = hh.RecordValue(us)
		}
	})
	f.got.Add(to - from)
	f.frames.Add(1)
	f.lastAt.Store(now.UnixNano())
}

// connect opens every client, subscribed, and returns those that got their subscription
// confirmed (a snapshot, or Centrifugo's subscribe reply).
func (f *fanout) connect(ctx context.Context) []*websocket.Conn {
	var mu sync.Mutex
	var conns []*websocket.Conn
	sem := make(chan struct{}, dialParallelism)
	var wg sync.WaitGroup
	for i := range f.cfg.Clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s := i % f.cfg.Subjects
			c, err := f.dial(ctx, i, s)
			if err != nil {
				f.fail(err)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			f.subs[s]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return conns
}

// dial opens client i on subject s, waits for its subscription to be confirmed, and starts
// its reader.
func (f *fanout) dial(ctx context.Context, i, s int) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	base := "ws" + strings.TrimPrefix(strings.TrimSuffix(f.cfg.URL, "/"), "http")
	var path string
	var subscribe [][]byte
	if f.cfg.Target == TargetPulse {
		path = "/v1/live"
		m, _ := json.Marshal(map[string]any{"op": "subscribe", "id": "f", "type": f.cfg.Type, "subjects": []string{f.subjects[s]}})
		subscribe = [][]byte{m}
	} else {
		path = "/connection/websocket"
		m, _ := json.Marshal(map[string]any{"id": 2, "subscribe": map[string]any{"channel": f.subjects[s]}})
		subscribe = [][]byte{[]byte(`{"id":1,"connect":{"name":"bench"}}`), m}
	}
	var opts websocket.DialOptions
	if f.cfg.Target == TargetPulse && f.cfg.APIKey != "" {
		opts.HTTPHeader = map[string][]string{"Authorization": {"Bearer " + f.cfg.APIKey}}
	}
	c, _, err := websocket.Dial(dctx, base+path, &opts)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.SetReadLimit(1 << 20)
	for _, m := range subscribe {
		if err := c.Write(dctx, websocket.MessageText, m); err != nil {
			c.CloseNow()
			return nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	ready := make(chan error, 1)
	r := &fanReader{f: f, c: c, client: i, subject: s, ready: ready}
	go r.run()
	select {
	case err = <-ready:
	case <-dctx.Done():
		err = errors.New("no subscription confirmed within 30s")
	}
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	return c, nil
}

func closeAll(conns []*websocket.Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.Close(websocket.StatusNormalClosure, "bench done") })
	}
	wg.Wait()
}

// fanReader reads one client's frames.
type fanReader struct {
	f       *fanout
	c       *websocket.Conn
	client  int
	subject int
	ready   chan error // the subscription confirmed, or why not; then nil
	last    int64      // events of the subject seen so far
}

func (r *fanReader) confirm(err error) {
	if r.ready != nil {
		r.ready <- err
		r.ready = nil
	}
}

func (r *fanReader) run() {
	for {
		_, b, err := r.c.Read(context.Background())
		if err != nil {
			r.confirm(fmt.Errorf("closed before the subscription was confirmed: %w", err))
			return
		}
		now := time.Now()
		if r.f.cfg.Target == TargetPulse {
			r.pulseFrame(b, now)
		} else {
			r.centrifugoFrame(b, now)
		}
	}
}

// pulseFrame is one /v1/live frame: the subject's count is how many of its events were seen.
func (r *fanReader) pulseFrame(b []byte, now time.Time) {
	var fr struct {
		Op      string                       `json:"op"`
		Code    string                       `json:"code"`
		Message string                       `json:"message"`
		Counts  []map[string]json.RawMessage `json:"counts"`
	}
	if json.Unmarshal(b, &fr) != nil {
		return
	}
	switch fr.Op {
	case "error":
		r.f.fail(fmt.Errorf("error frame: %s: %s", fr.Code, fr.Message))
		r.confirm(fmt.Errorf("subscribe refused: %s", fr.Code))
		return
	case "snapshot", "update":
	default:
		return
	}
	for _, c := range fr.Counts {
		n, err := strconv.ParseInt(string(c[r.f.cfg.Window]), 10, 64)
		if err != nil {
			continue
		}
		if fr.Op == "snapshot" && r.ready != nil {
			r.last = n
			continue
		}
		if n > r.last {
			r.f.deliver(r.client, r.subject, r.last, n, now)
			r.last = n
		}
	}
	if fr.Op == "snapshot" {
		r.confirm(nil)
	}
}

// centrifugoFrame is one message of Centrifugo's JSON protocol: replies and pushes, one per
// line. An empty object is a ping, answered with one.
func (r *fanReader) centrifugoFrame(b []byte, now time.Time) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if string(bytes.TrimSpace(line)) == "{}" {
			_ = r.c.Write(context.Background(), websocket.MessageText, []byte("{}"))
			continue
		}
		var m struct {
			ID    int `json:"id"`
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
			Push *struct {
				Pub *struct {
					Data struct {
						N int64 `json:"n"`
					} `json:"data"`
				} `json:"pub"`
			} `json:"push"`
		}
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		switch {
		case m.Error != nil:
			err := fmt.Errorf("centrifugo error %d: %s", m.Error.Code, m.Error.Message)
			r.f.fail(err)
			r.confirm(err)
		case m.ID == 2:
			r.confirm(nil) // subscribed
		case m.Push != nil && m.Push.Pub != nil:
			if n := m.Push.Pub.Data.N; n > r.last {
				r.f.deliver(r.client, r.subject, r.last, n, now)
				r.last = n
			}
		}
	}
}

// publish sends Rate events/s for Duration, what is due every Tick in one request, and adds
// each event's subscribers to the expected deliveries.
func (f *fanout) publish(ctx context.Context, res *FanoutResult) (*histogram, error) {
	var h histogram
	path := "/v1/events"
	key := f.cfg.APIKey
	if f.cfg.Target == TargetCentrifugo {
		path, key = "/api/batch", ""
	}
	hc, err := newHTTPConn(f.cfg.PublishURL, path, key)
	if err != nil {
		return &h, err
	}
	if f.cfg.Target == TargetCentrifugo && f.cfg.APIKey != "" {
		hc.head = bytes.Replace(hc.head, []byte("Content-Length: "), []byte("X-API-Key: "+f.cfg.APIKey+"\r\nContent-Length: "), 1)
	}
	defer hc.close()
	rng := rand.New(rand.NewPCG(f.cfg.Seed, 1))
	z := newZipf(f.cfg.Subjects, f.cfg.Zipf)
	seq := make([]int64, f.cfg.Subjects)
	quoted := make([][]byte, f.cfg.Subjects)
	for s, name := range f.subjects {
		quoted[s], _ = json.Marshal(name)
	}
	var body []byte
	var answer bytes.Buffer
	start := time.Now()
	ticks := int64(f.cfg.Duration / f.cfg.Tick)
	for t := int64(0); t < ticks; t++ {
		due := start.Add(time.Duration(t) * f.cfg.Tick)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
				return &h, ctx.Err()
			case <-time.After(wait):
			}
		} else if -wait > f.cfg.Tick {
			res.Late++
		}
		// Events due by the end of this tick, so the rate holds whatever the tick.
		n := int64(f.cfg.Rate*float64(t+1)*f.cfg.Tick.Seconds()) - res.Events
		if n <= 0 {
			continue
		}
		body = body[:0]
		if f.cfg.Target == TargetPulse {
			body = append(body, '[')
		} else {
			body = append(body, `{"commands":[`...)
		}
		now := time.Now().UnixNano()
		first := true
		for range n {
			s := z.pick(rng)
			k := seq[s]
			if int(k) >= len(f.sent[s]) {
				continue
			}
			seq[s]++
			f.sent[s][k].Store(now)
			if !first {
				body = append(body, ',')
			}
			first = false
			if f.cfg.Target == TargetPulse {
				body = append(body, `{"type":"`...)
				body = append(body, f.cfg.Type...)
				body = append(body, `","subject":`...)
				body = append(body, quoted[s]...)
				body = append(body, '}')
			} else {
				body = append(body, `{"publish":{"channel":`...)
				body = append(body, quoted[s]...)
				body = append(body, `,"data":{"n":`...)
				body = strconv.AppendInt(body, k+1, 10)
				body = append(body, `}}}`...)
			}
			f.expected.Add(f.subs[s])
		}
		if f.cfg.Target == TargetPulse {
			body = append(body, ']')
		} else {
			body = append(body, `]}`...)
		}
		t0 := time.Now()
		status, err := hc.post(body, &answer)
		h.record(time.Since(t0))
		res.Requests++
		res.Events += n
		if err != nil {
			return &h, fmt.Errorf("publish: %w", err)
		}
		if status != 200 && status != 202 {
			return &h, fmt.Errorf("publish: HTTP %d: %s", status, answer.Bytes())
		}
		// Every event must be taken, or the expected deliveries are wrong.
		if f.cfg.Target == TargetPulse && !bytes.Contains(answer.Bytes(), []byte(`"rejected":0`)) ||
			f.cfg.Target == TargetCentrifugo && bytes.Contains(answer.Bytes(), []byte(`"error"`)) {
			return &h, fmt.Errorf("publish: not every event was taken: %s", answer.Bytes())
		}
	}
	return &h, nil
}

// WriteTable prints the result for people.
func (res *FanoutResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("target", "%s  %d subjects (zipf %g, prefix %s)", res.Target, res.Subjects, res.Zipf, res.Prefix)
	row("clients", "%d connected of %d", res.Connected, res.Clients)
	if res.IdleCPU > 0 {
		row("idle", "%.3f cores", res.IdleCPU)
	}
	if res.Events > 0 {
		row("published", "%d events in %.1f s (%.0f/s), %d requests (%d late), HTTP ms %s", res.Events, res.Published, res.Rate, res.Requests, res.Late, res.HTTP)
		row("delivered", "%d of %d (%.2f%%) in %d frames, last %.2f s after the last publish", res.Delivered, res.Expected,
			100*float64(res.Delivered)/float64(max(res.Expected, 1)), res.Frames, res.SettleSecs)
		row("latency ms", "%s", res.Latency)
	}
	if res.CPU > 0 {
		row("server CPU", "%.2f s, %.4f s per 1,000 deliveries", res.CPU, res.CPUPerK)
	}
	for _, e := range res.Errors {
		row("error", "%s", e)
	}
	return tw.Flush()
}
