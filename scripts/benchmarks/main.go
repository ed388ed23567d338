// Command benchmarks runs Pulse's benchmark suite on this machine in one go and writes
// BENCHMARKS.md (`go tool task bench`): the Redis ceilings (redis-benchmark XADD, unpipelined
// and at pipeline depth 64) and a bare net/http 202 handler, then pulse itself (single and batch
// ingest, end-to-end latency at 1k and 10k events/s, fan-out) and the counter's apply rate, each
// stated as a ratio to the ceiling measured in the same run.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/loadgen"
	"github.com/pulsehq/pulse/internal/events"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchmarks", flag.ContinueOnError)
	out := fs.String("out", "BENCHMARKS.md", "report to write")
	baseline := fs.String("serve-baseline", "", "internal: serve the bare 202 handler on this address")
	skipFirst := fs.Bool("skip-first-start", false, "skip the fresh-clone `go tool task up` (it downloads every module and npm package)")
	quick := fs.Bool("quick", false, "short runs (a smoke test of the suite, not a measurement)")
	only := fs.String("only", "", `run one section and print it instead of writing the report: "presence" or "fanout"`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *baseline != "" {
		return serveBaseline(ctx, *baseline)
	}
	scale := 1.0
	if *quick {
		scale = 0.1
	}
	dur := func(s float64) time.Duration { return time.Duration(s * scale * float64(time.Second)) }

	dir, err := os.MkdirTemp("", "pulse-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r := &report{started: time.Now()}
	r.machine = describeMachine(ctx)
	if *only != "" && *only != "presence" && *only != "fanout" {
		return fmt.Errorf("-only %q: the sections that run alone are: presence, fanout", *only)
	}

	redisPort, err := freePort()
	if err != nil {
		return err
	}
	stopRedis, err := startRedis(ctx, filepath.Join(dir, "redis"), redisPort)
	if err != nil {
		return err
	}
	defer stopRedis()

	if *only != "" {
		bin, err := buildPulse(ctx, dir)
		if err != nil {
			return err
		}
		show := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
		if *only == "fanout" {
			if r.fanoutRuns, err = measureFanout(ctx, dir, bin, redisPort, scale, dur(20)); err != nil {
				return err
			}
			r.fanoutSection(show)
			return nil
		}
		if r.presence, err = measurePresence(ctx, dir, bin, redisPort, int(10_000*scale), dur(20)); err != nil {
			return err
		}
		r.presenceSection(show)
		return nil
	}

	if r.ceilings[0], err = measureCeilings(ctx, dir, redisPort, scale, dur(15)); err != nil {
		return err
	}

	bin, err := buildPulse(ctx, dir)
	if err != nil {
		return err
	}
	// Each run starts the roles it measures: in a deployment the indexer (and, for ingest runs,
	// the counter and live roles) run in other processes, so they don't share these two cores.
	pulse := pulseCmd(bin, dir, redisPort)
	const ingestOnly, livePath = "ingest", "ingest,counter,live"
	runs := []struct {
		name  string
		roles string
		dst   **loadgen.Result
		cfg   loadgen.Config
	}{
		{"pulse single-event ingest, max rate, 64 connections", ingestOnly, &r.single, loadgen.Config{Concurrency: 64, Duration: dur(20), Subjects: 10_000, Zipf: 1.1, NoLive: true}},
		{"pulse batch ingest (100/request), max rate, 16 connections", ingestOnly, &r.batch, loadgen.Config{Batch: 100, Concurrency: 16, Duration: dur(20), Subjects: 10_000, Zipf: 1.1, NoLive: true}},
		{"end-to-end at 1,000 events/s", livePath, &r.e2e1k, loadgen.Config{Rate: 1000, Concurrency: 16, Duration: dur(30), Subjects: 1000, Zipf: 1.1}},
		{"end-to-end at 10,000 events/s (batches of 100), 60 s", livePath, &r.e2e10k, loadgen.Config{Rate: 10_000, Batch: 100, Concurrency: 16, Duration: dur(60), Subjects: 1000, Zipf: 1.1}},
		{"fan-out: 10,000 WebSocket connections at 100 events/s", livePath, &r.fanout, loadgen.Config{Rate: 100, Concurrency: 4, Duration: dur(20), Subjects: 100, Connections: int(10_000 * scale), Settle: 60 * time.Second}},
	}
	for _, run := range runs {
		logf("%s", run.name)
		// Each run starts from an empty Redis: an ingest-only run leaves millions of entries that
		// the next run's counter would first have to catch up on.
		if err := flushRedis(ctx, redisPort); err != nil {
			return err
		}
		res, err := withProcess(ctx, dir, "pulse", pulse(run.roles), func(url string) (*loadgen.Result, error) {
			cfg := run.cfg
			cfg.URL = url
			return loadgen.Run(ctx, cfg)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", run.name, err)
		}
		*run.dst = res
	}

	if r.fanoutRuns, err = measureFanout(ctx, dir, bin, redisPort, scale, dur(20)); err != nil {
		return err
	}
	logf("presence: %d WebSocket connections watching, and not", int(10_000*scale))
	if err := flushRedis(ctx, redisPort); err != nil {
		return err
	}
	if r.presence, err = measurePresence(ctx, dir, bin, redisPort, int(10_000*scale), dur(20)); err != nil {
		return err
	}

	logf("counter apply rate (go test -bench)")
	if r.counter, err = goBench(ctx, "./consumers/counter", "BenchmarkApply", times(5, scale)); err != nil {
		return err
	}
	logf("mqtt intake (go test -bench)")
	if r.mqtt, err = goBench(ctx, "./ingest/mqtt", "BenchmarkIntake", times(5, scale)); err != nil {
		return err
	}
	logf("search indexing (go test -bench)")
	if r.search, err = goBench(ctx, "./internal/search", "BenchmarkBleve/docs=200000", times(500, scale)); err != nil {
		return err
	}
	// Scale: the same Redis work on more masters, and what partitions and WAIT cost.
	for _, tp := range []topology{
		{name: "1 master", masters: 1, partitions: events.DefaultPartitions},
		{name: "3 masters (cluster)", masters: 3, partitions: events.DefaultPartitions},
		{name: "1 master", masters: 1, partitions: 8},
		{name: "1 master", masters: 1, partitions: 128},
		{name: "1 master + 1 replica, WAIT 1", masters: 1, replica: true, partitions: events.DefaultPartitions},
	} {
		logf("scale: %s", tp.name)
		run, err := measureScale(ctx, dir, bin, tp, dur(10))
		if err != nil {
			return fmt.Errorf("scale %s: %w", tp.name, err)
		}
		r.scale = append(r.scale, run)
	}
	logf("archive: count over %d events of one month", int(10_000_000*scale))
	if r.archive, err = measureArchive(ctx, dir, int(10_000_000*scale)); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	// The ceilings again: this machine's rates drift by a third within an hour, and the higher
	// of two keeps every ratio below from being flattered by a ceiling measured in a slow minute.
	if err := flushRedis(ctx, redisPort); err != nil {
		return err
	}
	if r.ceilings[1], err = measureCeilings(ctx, dir, redisPort, scale, dur(15)); err != nil {
		return err
	}
	if !*skipFirst {
		logf("first start: go tool task up on a fresh clone with empty caches (needs the Go proxy and npm registry)")
		if r.first, err = measureFirstStart(ctx, dir); err != nil {
			return fmt.Errorf("first start: %w", err)
		}
	}
	r.finished = time.Now()
	if err := os.WriteFile(*out, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	logf("wrote %s", *out)
	return nil
}

// pulseCmd returns how to start `pulse serve --roles <roles>` on an address, against the
// suite's Redis.
func pulseCmd(bin, dir string, redisPort int) func(roles string) func(addr string) *exec.Cmd {
	return func(roles string) func(addr string) *exec.Cmd {
		return func(addr string) *exec.Cmd {
			cmd := exec.Command(bin, "serve", "--roles", roles)
			cmd.Env = append(os.Environ(),
				"PULSE_ADDR="+addr,
				fmt.Sprintf("PULSE_REDIS_URL=redis://127.0.0.1:%d/0", redisPort),
				"PULSE_DATA_DIR="+filepath.Join(dir, "data"),
				"PULSE_LOG_LEVEL=warn",
				// No archiver runs here (the archive has its own section): without an archive,
				// trimming does not wait for one, as before the archive existed.
				"PULSE_ARCHIVE_URL=off",
				// The fan-out runs open 10,000 WebSockets from this one address.
				"PULSE_LIVE_MAX_CONNS=20000",
				"PULSE_LIVE_MAX_CONNS_PER_ADDR=20000",
			)
			return cmd
		}
	}
}

// buildPulse builds the pulse binary into dir.
func buildPulse(ctx context.Context, dir string) (string, error) {
	logf("building pulse")
	bin := filepath.Join(dir, "pulse")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/pulse").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pulse: %v\n%s", err, out)
	}
	return bin, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// serveBaseline is the ceiling for single-event ingest: net/http answering 202 after reading
// the body, with the answer shape the load tool understands, doing nothing else.
func serveBaseline(ctx context.Context, addr string) error {
	body := []byte(`{"accepted":1,"duplicates":0,"rejected":0,"results":[{"status":"accepted"}]}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/readyz":
			return // 200: the suite waits for readiness the same way for every server
		case r.Method != http.MethodPost:
			http.NotFound(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// withProcess starts a server process on a free port, waits until it answers, runs load
// against it, and stops it with SIGTERM.
func withProcess(ctx context.Context, dir, name string, mk func(addr string) *exec.Cmd, load func(url string) (*loadgen.Result, error)) (*loadgen.Result, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return withProcessOn(ctx, dir, name, fmt.Sprintf("127.0.0.1:%d", port), "/readyz", mk, load)
}

// withProcessOn is withProcess on addr, ready once health answers 200.
func withProcessOn(ctx context.Context, dir, name, addr, health string, mk func(addr string) *exec.Cmd, load func(url string) (*loadgen.Result, error)) (*loadgen.Result, error) {
	cmd := mk(addr)
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	url := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(url + health); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			return nil, fmt.Errorf("%s did not become ready:\n%s", name, log)
		}
	}
	return load(url)
}

// startRedis runs redis-server with AOF (everysec) in rdir on port, plus extra arguments.
func startRedis(ctx context.Context, rdir string, port int, extra ...string) (func(), error) {
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", rdir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""}, extra...)...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis-server (apt-get install -y redis-server): %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("redis-server did not start")
		}
	}
}

var rpsRe = regexp.MustCompile(`([0-9.]+) requests per second`)

// measureCeilings measures what the ratios are taken against: XADD unpipelined and at pipeline
// depth 64, and a bare net/http handler answering 202 (loaded for d).
func measureCeilings(ctx context.Context, dir string, redisPort int, scale float64, d time.Duration) (ceilings, error) {
	var c ceilings
	var err error
	logf("redis-benchmark XADD ceilings")
	if c.xadd1, err = redisBenchmark(ctx, redisPort, 1, int(200_000*scale)); err != nil {
		return c, err
	}
	if c.xadd64, err = redisBenchmark(ctx, redisPort, 64, int(2_000_000*scale)); err != nil {
		return c, err
	}
	logf("bare net/http 202 handler")
	c.bare, err = withProcess(ctx, dir, "baseline", func(addr string) *exec.Cmd {
		self, _ := os.Executable()
		return exec.Command(self, "-serve-baseline", addr)
	}, func(url string) (*loadgen.Result, error) {
		return loadgen.Run(ctx, loadgen.Config{URL: url, NoLive: true, Concurrency: 64, Duration: d})
	})
	return c, err
}

// redisBenchmark measures XADD (AOF everysec, like pulse's) at pipeline depth p.
func redisBenchmark(ctx context.Context, port, p, n int) (float64, error) {
	out, err := exec.CommandContext(ctx, "redis-benchmark", "-p", strconv.Itoa(port), "-c", "64",
		"-n", strconv.Itoa(n), "-P", strconv.Itoa(p), "-q",
		"XADD", "bench:ceiling", "MAXLEN", "~", "1000000", "*", "type", "video_liked", "subject", "video-__rand_int__").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %v\n%s", err, out)
	}
	m := rpsRe.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("redis-benchmark: no rate in %q", out)
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s+(.*)$`)

// goBench runs Go benchmarks matching pattern in pkg and returns their result lines.
func goBench(ctx context.Context, pkg, pattern, benchtime string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", pkg, "-run", "^$", "-bench", pattern, "-benchtime", benchtime)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %v\n%s", err, out)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if m := benchLine.FindStringSubmatch(sc.Text()); m != nil {
			lines = append(lines, m[1]+": "+strings.Join(strings.Fields(m[2]), " "))
		}
	}
	return lines, nil
}

// times is a -benchtime of n iterations, 1 in a quick run.
func times(n int, scale float64) string {
	if scale < 1 {
		n = 1
	}
	return strconv.Itoa(n) + "x"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func describeMachine(ctx context.Context) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf(", %.0f GiB RAM", kb/1024/1024)
		}
	}
	redisV, _ := exec.CommandContext(ctx, "redis-server", "--version").Output()
	return fmt.Sprintf("%d cores (%s)%s, %s %s/%s, %s", runtime.NumCPU(), cpu, mem, runtime.Version(),
		runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(redisV)))
}
