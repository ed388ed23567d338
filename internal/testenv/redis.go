// Package testenv gives tests real servers: a private Redis per test (PULSE_TEST_REDIS_URL, else
// testcontainers when a Docker daemon answers, else the local redis-server binary), a Redis
// Cluster and fault-injecting proxies for fault tests, and the pulse binary built once per test
// run. Nothing here is a mock.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// Redis is one private Redis server for one test.
type Redis struct {
	URL  string
	Addr string // go-redis Options.Addr: host:port, or the socket path for a unix socket
	Kind string // "env", "docker" or "binary": tests say which ran

	t      testing.TB
	dir    string
	mu     sync.Mutex
	args   []string      // the redis-server command line, reused by every Start
	cmd    *exec.Cmd     // the running process, nil after Kill
	exited chan struct{} // closed once cmd has exited (killed or on its own)
}

// RedisOptions selects what StartRedisWith runs. The zero value is StartRedis's local server:
// a unix socket, no persistence.
type RedisOptions struct {
	// TCP listens on 127.0.0.1 on a free port instead of a unix socket, so that a proxy (TCP
	// only) can sit in front of it. Start reuses the port: clients and proxies keep their address.
	TCP bool
	// AppendFsync turns the AOF on with this fsync policy ("always", "everysec" or "no"), so
	// that writes survive Kill and Start as far as the policy promises; "" keeps persistence off.
	AppendFsync string
	// ReplicaOf, "host:port", starts the server as a replica of that (TCP) one.
	ReplicaOf string

	// args, when set, returns extra redis-server arguments; it runs again on every start
	// attempt, so it can pick more ports (cluster.go picks the cluster bus port).
	args func(testing.TB) []string
}

var envDB atomic.Int32

// StartRedis starts a Redis the test owns, stopped at cleanup. The local binary listens on a
// unix socket in its own directory: no port can be taken by a parallel test.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	ctx := context.Background()
	if url := os.Getenv("PULSE_TEST_REDIS_URL"); url != "" {
		// A shared server: give each test its own database and start it empty. Tests that use
		// pub/sub may see each other's messages; run with -p 1 against a shared server.
		db := envDB.Add(1)%15 + 1
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatalf("PULSE_TEST_REDIS_URL: %v", err)
		}
		opt.DB = int(db)
		c := redis.NewClient(opt)
		defer c.Close()
		if err := c.FlushDB(ctx).Err(); err != nil {
			t.Fatalf("flush test db: %v", err)
		}
		u := strings.TrimRight(url, "/0123456789")
		r := &Redis{URL: fmt.Sprintf("%s/%d", strings.TrimSuffix(u, "/"), db), Addr: opt.Addr, Kind: "env", t: t}
		t.Logf("testenv: redis from PULSE_TEST_REDIS_URL, db %d", db)
		return r
	}
	if DockerAvailable(ctx) {
		ctr, err := tcredis.Run(ctx, "redis:7.4-alpine")
		testcontainers.CleanupContainer(t, ctr)
		if err != nil {
			t.Fatalf("redis container: %v", err)
		}
		uri, err := ctr.ConnectionString(ctx)
		if err != nil {
			t.Fatalf("redis container: %v", err)
		}
		opt, err := redis.ParseURL(uri)
		if err != nil {
			t.Fatalf("redis container: %v", err)
		}
		t.Logf("testenv: redis in a testcontainers container at %s", uri)
		return &Redis{URL: uri, Addr: opt.Addr, Kind: "docker", t: t}
	}
	r := startBinary(t, RedisOptions{})
	t.Logf("testenv: redis-server binary on %s", r.URL)
	return r
}

// StartRedisWith starts a local redis-server with opts, killed at cleanup. It never uses
// PULSE_TEST_REDIS_URL or Docker: crash tests need to own the process (Kill, Start).
func StartRedisWith(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	r := startBinary(t, opts)
	t.Logf("testenv: redis-server binary on %s, %s", r.URL, aof(opts.AppendFsync))
	return r
}

// aof describes an AppendFsync setting for logs.
func aof(fsync string) string {
	if fsync == "" {
		return "no persistence"
	}
	return "AOF with appendfsync " + fsync
}

// errAddrInUse is a start that lost its port to another process.
var errAddrInUse = errors.New("address already in use")

// startBinary runs the local redis-server in a private directory (os.MkdirTemp, not t.TempDir:
// a unix socket path must stay under 108 bytes), removed at cleanup.
func startBinary(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	switch opts.AppendFsync {
	case "", "always", "everysec", "no":
	default:
		t.Fatalf("testenv: AppendFsync %q: want always, everysec, no or empty", opts.AppendFsync)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("testenv: no redis-server on PATH (nor a Docker daemon for StartRedis): apt-get install -y redis-server")
	}
	dir, err := os.MkdirTemp(dataRoot(opts), "pulse-redis-")
	if err != nil {
		t.Fatal(err)
	}
	r := &Redis{Kind: "binary", t: t, dir: dir}
	t.Cleanup(func() {
		r.Stop()
		_ = os.RemoveAll(dir)
	})
	for attempt := 1; ; attempt++ {
		r.configure(bin, opts)
		err := r.start()
		if err == nil {
			return r
		}
		// A free port is found by binding :0 and closing it, so another process can take it
		// before redis-server binds it: pick new ports and start afresh.
		if !errors.Is(err, errAddrInUse) || attempt == 10 {
			t.Fatalf("testenv: %v", err)
		}
		if err := clearDir(dir); err != nil {
			t.Fatal(err)
		}
	}
}

// dataRoot is where a Redis keeps its files: an AOF goes to tmpfs (/dev/shm) when the machine
// has one. With appendfsync everysec, Redis postpones writing the AOF while the previous
// second's fsync still runs, yet answers clients (up to 2 s; docs/reliability.md): on a disk
// busy with other tests, a SIGKILL then loses acknowledged writes, which is Redis's documented
// limit, not what the crash tests check. On tmpfs an fsync is instant.
func dataRoot(opts RedisOptions) string {
	if opts.AppendFsync != "" {
		if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
			return "/dev/shm"
		}
	}
	return ""
}

// configure sets the command line, URL and Addr, picking a fresh port for TCP.
func (r *Redis) configure(bin string, opts RedisOptions) {
	args := []string{bin, "--dir", r.dir, "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(r.dir, "redis.log")}
	if opts.TCP {
		r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(r.t)))
		r.URL = "redis://" + r.Addr
		_, port, _ := net.SplitHostPort(r.Addr)
		args = append(args, "--bind", "127.0.0.1", "--port", port)
	} else {
		r.Addr = filepath.Join(r.dir, "redis.sock")
		r.URL = "unix://" + r.Addr
		args = append(args, "--port", "0", "--unixsocket", r.Addr, "--unixsocketperm", "700")
	}
	if opts.AppendFsync != "" {
		// A SIGKILL in mid-write leaves a torn AOF. With aof-load-truncated yes (the default),
		// Redis 7.0 cuts it inside a script's MULTI/EXEC block and a later restart drops
		// acknowledged writes (valkey-io/valkey#4342, docs/reliability.md): refuse the torn
		// file and let start repair it with redis-check-aof, as docs tell operators to.
		args = append(args, "--appendonly", "yes", "--appendfsync", opts.AppendFsync,
			"--aof-load-truncated", "no")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if opts.ReplicaOf != "" {
		host, port, _ := net.SplitHostPort(opts.ReplicaOf)
		args = append(args, "--replicaof", host, port, "--repl-diskless-sync-delay", "0")
	}
	if opts.args != nil {
		args = append(args, opts.args(r.t)...)
	}
	r.mu.Lock()
	r.args = args
	r.mu.Unlock()
}

// Start restarts a local redis-server stopped by Kill (or Stop) with the same command line:
// same socket or port, same directory, so an AOF is loaded again. It returns once PING answers
// PONG: Redis answers -LOADING until the AOF is replayed, so the data is back by then.
func (r *Redis) Start() {
	r.t.Helper()
	if r.Kind != "binary" {
		r.t.Fatalf("testenv: cannot restart a %s redis", r.Kind)
	}
	if err := r.start(); err != nil {
		r.t.Fatalf("testenv: %v", err)
	}
}

func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		select {
		case <-r.exited: // it died on its own: start it again
		default:
			return errors.New("redis-server is already running")
		}
	}
	err := r.launch()
	if !errors.Is(err, errTornAOF) {
		return err
	}
	if err := r.repairAOF(); err != nil {
		return err
	}
	return r.launch()
}

// errTornAOF is a start refused because a crash cut the AOF's last write short.
var errTornAOF = errors.New("torn AOF")

// launch runs redis-server and waits until it answers PING. The caller holds r.mu.
func (r *Redis) launch() error {
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		return err
	}
	logPath := filepath.Join(r.dir, "redis.log")
	var logFrom int64 // report only this run's log lines
	if fi, err := os.Stat(logPath); err == nil {
		logFrom = fi.Size()
	}
	cmd := exec.Command(r.args[0], r.args[1:]...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	r.cmd, r.exited = cmd, exited

	opt.MaxRetries = -1 // poll at our own pace, no backoff
	opt.DialTimeout, opt.ReadTimeout = time.Second, time.Second
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Second); ; {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			r.cmd = nil
			log := readFrom(logPath, logFrom)
			switch {
			case strings.Contains(log, "Address already in use"):
				return fmt.Errorf("redis-server on %s: %w:\n%s", r.URL, errAddrInUse, log)
			case strings.Contains(log, "Unexpected end of file reading the append only file"):
				return fmt.Errorf("redis-server on %s: %w:\n%s", r.URL, errTornAOF, log)
			}
			return fmt.Errorf("redis-server on %s exited at start:\n%s", r.URL, log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			r.cmd = nil
			return fmt.Errorf("redis-server on %s did not answer PING (last: %v):\n%s", r.URL, err, readFrom(logPath, logFrom))
		}
	}
}

// repairAOF cuts a torn AOF back to its last whole command, or to before the MULTI of a torn
// transaction, as docs/reliability.md tells operators to. The torn write was never
// acknowledged: Redis replies only after the whole command is written (under always, synced).
func (r *Redis) repairAOF() error {
	manifest := filepath.Join(r.dir, "appendonlydir", "appendonly.aof.manifest")
	cmd := exec.Command("redis-check-aof", "--fix", manifest)
	cmd.Stdin = strings.NewReader("y\n") // it asks before it truncates
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("redis-check-aof --fix %s: %w:\n%s", manifest, err, out)
	}
	r.t.Logf("testenv: redis-server on %s refused a torn AOF; redis-check-aof --fix repaired it:\n%s", r.URL, out)
	return nil
}

// Stop kills the local redis-server (as a crash would: no save).
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// Kill is Stop under the name fault tests mean: SIGKILL, so Redis neither saves nor flushes
// anything; with an AOF, what survives is what the fsync policy had written.
func (r *Redis) Kill() { r.Stop() }

// Client returns a client of the test's Redis, closed at cleanup.
func (r *Redis) Client() *redis.Client {
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		r.t.Fatal(err)
	}
	// Generous bounds: on a loaded CI machine a call may wait seconds for the CPU, and a
	// timed-out call that Redis ran anyway is a fault the test did not mean to inject.
	opt.ReadTimeout, opt.WriteTimeout = 30*time.Second, 30*time.Second
	c := redis.NewClient(opt)
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago: callers retry if
// someone else binds it first.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// clearDir empties dir, so a failed start leaves nothing (log, nodes.conf) to the next one.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// readFrom returns a file's content from offset, for error messages.
func readFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if offset > int64(len(b)) {
		offset = 0
	}
	return string(b[offset:])
}

// DockerAvailable reports whether testcontainers reaches a healthy Docker daemon. Provider
// creation takes no ctx and can hang on a half-dead DOCKER_HOST, so it is bounded here.
func DockerAvailable(ctx context.Context) bool {
	dockerOnce.Do(func() { dockerOK = probeDocker(ctx) })
	return dockerOK
}

var (
	dockerOnce sync.Once
	dockerOK   bool
)

func probeDocker(ctx context.Context) bool {
	if os.Getenv("TESTS_NO_DOCKER") == "1" {
		return false
	}
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); err != nil {
			return false
		}
	}
	res := make(chan bool, 1)
	go func() {
		defer func() {
			if recover() != nil {
				res <- false
			}
		}()
		p, err := testcontainers.ProviderDefault.GetProvider()
		if err != nil {
			res <- false
			return
		}
		defer p.Close()
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		res <- p.Health(hctx) == nil
	}()
	select {
	case ok := <-res:
		return ok
	case <-time.After(10 * time.Second):
		return false
	}
}
