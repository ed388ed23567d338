// Package testenv gives tests real servers: a private Redis per test (PULSE_TEST_REDIS_URL, else
// testcontainers when a Docker daemon answers, else the local redis-server binary), and the
// pulse binary built once per test run. Nothing here is a mock.
package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	Kind string // "env", "docker" or "binary": tests say which ran

	t    testing.TB
	dir  string
	args []string
	mu   sync.Mutex
	cmd  *exec.Cmd
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
		r := &Redis{URL: fmt.Sprintf("%s/%d", strings.TrimSuffix(u, "/"), db), Kind: "env", t: t}
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
		t.Logf("testenv: redis in a testcontainers container at %s", uri)
		return &Redis{URL: uri, Kind: "docker", t: t}
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("testenv: no Docker daemon and no redis-server on PATH: apt-get install -y redis-server")
	}
	// os.MkdirTemp, not t.TempDir: a unix socket path must stay under 108 bytes.
	dir, err := os.MkdirTemp("", "pulse-redis-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "redis.sock")
	r := &Redis{
		URL:  "unix://" + sock,
		Kind: "binary",
		t:    t,
		dir:  dir,
		args: []string{"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", filepath.Join(dir, "redis.log")},
	}
	r.args = append([]string{bin}, r.args...)
	t.Cleanup(func() {
		r.Stop()
		_ = os.RemoveAll(dir)
	})
	r.Start()
	t.Logf("testenv: redis-server binary on %s", r.URL)
	return r
}

// Start (re)starts a local redis-server stopped by Stop, on the same socket.
func (r *Redis) Start() {
	r.t.Helper()
	if r.Kind != "binary" {
		r.t.Fatalf("testenv: cannot restart a %s redis", r.Kind)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command(r.args[0], r.args[1:]...)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	opt, _ := redis.ParseURL(r.URL)
	c := redis.NewClient(opt)
	defer c.Close()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(ctx).Err() != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server did not start:\n%s", log)
		}
	}
}

// Stop kills the local redis-server (as a crash would: no save).
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_, _ = r.cmd.Process.Wait()
	r.cmd = nil
}

// Client returns a client of the test's Redis, closed at cleanup.
func (r *Redis) Client() *redis.Client {
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		r.t.Fatal(err)
	}
	c := redis.NewClient(opt)
	r.t.Cleanup(func() { _ = c.Close() })
	return c
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
