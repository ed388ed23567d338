// Package integration holds Pulse's cross-role tests against real servers, and the harness they
// share: a private Redis plus a pulse App running in-process (or as a separate OS process).
package integration

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// Pulse is one running pulse App of a test.
type Pulse struct {
	URL    string         // http://127.0.0.1:port
	Redis  *testenv.Redis // nil on a cluster
	Config app.Config
	Layout events.Layout // the deployment's, as the App learned it
	// Roles are a split deployment's Apps by role (StartSplit); nil for one App.
	Roles map[string][]*Pulse
	stop  context.CancelFunc
	done  chan error
}

// Start runs an App with every role on a private Redis (or on redis when given), on a free
// port, data under a temp dir. tune adjusts the config (short windows, fewer partitions…).
// The App is stopped at cleanup, and its Run error fails the test.
func Start(t testing.TB, redis *testenv.Redis, tune func(*app.Config)) *Pulse {
	t.Helper()
	if redis == nil {
		redis = testenv.StartRedis(t)
	}
	p := StartOn(t, redis.URL, tune)
	p.Redis = redis
	return p
}

// StartOn is Start on the Redis (or the cluster seeds) at url.
func StartOn(t testing.TB, url string, tune func(*app.Config)) *Pulse {
	t.Helper()
	cfg := app.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.RedisURL = url
	cfg.DataDir = t.TempDir()
	cfg.Consumers.ClaimIdle = 2 * time.Second
	// Every test client connects from 127.0.0.1: that one address may hold as many live
	// connections as the process (tests of the per-address cap set it lower).
	cfg.Live.MaxConnsPerAddr = cfg.Live.MaxConns
	// Test clients share a loaded machine (CI runs every test with -race): one may not answer
	// a ping for seconds without being slow. Tests of slow clients set their own timeout.
	cfg.Live.SlowTimeout = time.Minute
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, Logger(t))
	if err != nil {
		cancel()
		t.Fatalf("app.New: %v", err)
	}
	p := &Pulse{Config: cfg, Layout: a.Layout(), stop: cancel, done: make(chan error, 1)}
	go func() { p.done <- a.Run(ctx) }()
	p.URL = "http://" + a.Addr()
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("pulse run: %v", err)
		}
	})
	testenv.WaitFor(t, 15*time.Second, "pulse /readyz", func() bool {
		res, err := http.Get(p.URL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return p
}

// Stop shuts the App down gracefully and returns Run's error. Calling it twice is harmless.
func (p *Pulse) Stop() error {
	p.stop()
	select {
	case err, ok := <-p.done:
		if ok {
			close(p.done)
		}
		return err
	case <-time.After(30 * time.Second):
		return errors.New("pulse did not stop within 30s")
	}
}

// Logger sends the App's logs to the test log when -v (or PULSE_TEST_LOG=1); otherwise it
// keeps the last lines and prints them only if the test fails, so that a failure seen once
// in CI comes with what the App said.
func Logger(t testing.TB) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if testing.Verbose() || os.Getenv("PULSE_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(tWriter{t}, opts))
	}
	w := &tailWriter{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the App's last log lines:\n%s", w.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, opts))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

// tailWriter keeps the last tailLines log lines.
type tailWriter struct {
	mu    sync.Mutex
	lines []string
}

const tailLines = 200

func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.lines) == tailLines {
		w.lines = slices.Delete(w.lines, 0, 1)
	}
	w.lines = append(w.lines, string(b))
	return len(b), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "")
}
