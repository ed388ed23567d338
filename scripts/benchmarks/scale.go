package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/cmd/pulse/loadgen"
	"github.com/pulsehq/pulse/internal/events"
)

// topology is one Redis deployment of the scale runs.
type topology struct {
	name       string
	masters    int
	replica    bool // one replica of the (single) master, with PULSE_INGEST_WAIT_REPLICAS=1
	partitions int
}

// scaleRun is one topology's figures, with the roles split: an ingest process loaded with
// batches, then a counter process draining what it appended.
type scaleRun struct {
	topology
	ingest       *loadgen.Result
	ingestCPU    float64   // the ingest process's CPU-seconds per 1,000 events
	redisIngest  []float64 // per master: Redis CPU-seconds per 1,000 events while ingesting
	drained      float64   // events/s the counter process applied, from its start
	counterCPU   float64   // its CPU-seconds per 1,000 events, start-up included
	redisCounter []float64 // per master, while draining
}

// redisNodes is what a topology runs: the masters' addresses, and the URL Pulse takes.
type redisNodes struct {
	masters []string
	url     string
	stop    func()
}

func startTopology(ctx context.Context, dir string, tp topology) (*redisNodes, error) {
	n := &redisNodes{}
	var stops []func()
	n.stop = func() {
		for _, s := range stops {
			s()
		}
	}
	start := func(extra ...string) (string, error) {
		port, err := freePort()
		if err != nil {
			return "", err
		}
		d := filepath.Join(dir, "scale-"+strconv.Itoa(port))
		stop, err := startRedis(ctx, d, port, extra...)
		if err != nil {
			return "", err
		}
		stops = append(stops, stop)
		return fmt.Sprintf("127.0.0.1:%d", port), nil
	}
	fail := func(err error) (*redisNodes, error) { n.stop(); return nil, err }
	switch {
	case tp.masters == 1:
		addr, err := start()
		if err != nil {
			return fail(err)
		}
		n.masters, n.url = []string{addr}, "redis://"+addr
		if tp.replica {
			host, port, _ := strings.Cut(addr, ":")
			raddr, err := start("--replicaof", host, port)
			if err != nil {
				return fail(err)
			}
			if err := waitFor(ctx, "the replica to sync", func() bool {
				return strings.Contains(info(ctx, raddr, "replication"), "master_link_status:up")
			}); err != nil {
				return fail(err)
			}
		}
	default:
		create := []string{"--cluster", "create"}
		for range tp.masters {
			bus, err := freePort()
			if err != nil {
				return fail(err)
			}
			addr, err := start("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus))
			if err != nil {
				return fail(err)
			}
			n.masters = append(n.masters, addr)
			create = append(create, addr)
		}
		if out, err := exec.CommandContext(ctx, "redis-cli", append(create, "--cluster-yes")...).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out))
		}
		if err := waitFor(ctx, "cluster_state:ok", func() bool {
			for _, a := range n.masters {
				if !strings.Contains(info(ctx, a, "cluster"), "cluster_enabled:1") || !clusterOK(ctx, a) {
					return false
				}
			}
			return true
		}); err != nil {
			return fail(err)
		}
		n.url = "redis://" + strings.Join(n.masters, ",redis://")
	}
	return n, nil
}

func clusterOK(ctx context.Context, addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	s, err := c.ClusterInfo(ctx).Result()
	return err == nil && strings.Contains(s, "cluster_state:ok")
}

// info is one section of INFO from the node at addr ("" when it does not answer).
func info(ctx context.Context, addr, section string) string {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	s, _ := c.Info(ctx, section).Result()
	return s
}

// redisCPU is the node's CPU time so far (used_cpu_user + used_cpu_sys), in seconds.
func redisCPU(ctx context.Context, addr string) float64 {
	var total float64
	for line := range strings.SplitSeq(info(ctx, addr, "cpu"), "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_user" || k == "used_cpu_sys" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

func cpus(ctx context.Context, addrs []string) []float64 {
	out := make([]float64, len(addrs))
	for i, a := range addrs {
		out[i] = redisCPU(ctx, a)
	}
	return out
}

// perThousand turns CPU before/after into CPU-seconds per 1,000 events.
func perThousand(before, after []float64, events float64) []float64 {
	out := make([]float64, len(before))
	for i := range before {
		out[i] = (after[i] - before[i]) / events * 1000
	}
	return out
}

// pulseProc is a running `pulse serve`.
type pulseProc struct {
	url string
	cmd *exec.Cmd
}

func startPulse(dir, bin, name string, env []string) (*pulseProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(append(os.Environ(), env...), "PULSE_ADDR="+addr, "PULSE_LOG_LEVEL=warn", "PULSE_ARCHIVE_URL=off",
		"PULSE_DATA_DIR="+filepath.Join(dir, "data-"+name))
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &pulseProc{url: "http://" + addr, cmd: cmd}
	if err := waitFor(context.Background(), name+" ready", func() bool {
		r, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	}); err != nil {
		p.stop()
		log, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("%w:\n%s", err, log)
	}
	return p, nil
}

func (p *pulseProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_, _ = p.cmd.Process.Wait()
}

// measureScale measures one topology: batch ingest at full rate for d, then the counter's drain.
func measureScale(ctx context.Context, dir, bin string, tp topology, d time.Duration) (*scaleRun, error) {
	nodes, err := startTopology(ctx, dir, tp)
	if err != nil {
		return nil, err
	}
	defer nodes.stop()
	env := []string{"PULSE_REDIS_URL=" + nodes.url, "PULSE_PARTITIONS=" + strconv.Itoa(tp.partitions)}
	if tp.replica {
		env = append(env, "PULSE_INGEST_WAIT_REPLICAS=1")
	}
	run := &scaleRun{topology: tp}

	ingest, err := startPulse(dir, bin, "scale-ingest", append(env, "PULSE_ROLES=ingest"))
	if err != nil {
		return nil, err
	}
	before, pcpu := cpus(ctx, nodes.masters), loadgen.ProcCPU(ingest.cmd.Process.Pid)
	run.ingest, err = loadgen.Run(ctx, loadgen.Config{URL: ingest.url, Batch: 100, Concurrency: 16, Duration: d,
		Subjects: 10_000, Zipf: 1.1, NoLive: true})
	pcpu = loadgen.ProcCPU(ingest.cmd.Process.Pid) - pcpu
	ingest.stop()
	if err != nil {
		return nil, err
	}
	n := float64(run.ingest.Accepted)
	if n == 0 {
		return nil, errors.New("no event accepted")
	}
	run.redisIngest = perThousand(before, cpus(ctx, nodes.masters), n)
	run.ingestCPU = pcpu / n * 1000

	// The counter drains what ingest appended: its rate is the counter's alone.
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: nodes.masters, IsClusterMode: tp.masters > 1})
	defer rdb.Close()
	layout, err := deploymentLayout(ctx, rdb)
	if err != nil {
		return nil, err
	}
	before = cpus(ctx, nodes.masters)
	start := time.Now()
	counter, err := startPulse(dir, bin, "scale-counter", append(env, "PULSE_ROLES=counter"))
	if err != nil {
		return nil, err
	}
	err = waitFor(ctx, "the counter to drain", func() bool { return acked(ctx, rdb, layout) >= int64(n) })
	elapsed := time.Since(start)
	// All of the process's CPU, its start included: it may drain before it reports ready.
	pcpu = loadgen.ProcCPU(counter.cmd.Process.Pid)
	counter.stop()
	if err != nil {
		return nil, err
	}
	run.drained = n / elapsed.Seconds()
	run.redisCounter = perThousand(before, cpus(ctx, nodes.masters), n)
	run.counterCPU = pcpu / n * 1000
	return run, nil
}

// deploymentLayout is the layout Pulse recorded.
func deploymentLayout(ctx context.Context, rdb redis.UniversalClient) (events.Layout, error) {
	m, err := rdb.HGetAll(ctx, events.MetaKey).Result()
	if err != nil {
		return events.Layout{}, err
	}
	n, _ := strconv.Atoi(m["partitions"])
	l := events.Layout{Partitions: n, Tags: events.Tags(m["tags"])}
	return l, l.Check()
}

// acked is how many entries the counter group has read and acknowledged.
func acked(ctx context.Context, rdb redis.UniversalClient, l events.Layout) int64 {
	var done int64
	for p := range l.Partitions {
		gs, err := rdb.XInfoGroups(ctx, l.Stream(p)).Result()
		if err != nil {
			return 0
		}
		for _, g := range gs {
			if g.Name == events.GroupCounter {
				done += g.EntriesRead - g.Pending
			}
		}
	}
	return done
}

func waitFor(ctx context.Context, what string, cond func() bool) error {
	return waitUntil(ctx, 5*time.Minute, what, cond)
}

// waitUntil polls cond until it holds, for at most limit.
func waitUntil(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	for deadline := time.Now().Add(limit); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
	}
}
