// Package app composes Pulse's roles into one process: it owns the Redis clients, the HTTP
// server, readiness, metrics and the shutdown order. cmd/pulse and end-to-end tests both run it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/internal/archive"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/telemetry"
)

// App is one pulse process.
type App struct {
	cfg       Config
	log       *slog.Logger
	rdb       redis.UniversalClient
	redisOpts redis.UniversalOptions // as connect settled them: every client of the process uses them
	reg       *telemetry.Registry
	keys      *httpapi.Keys
	windows   []events.Window
	layout    events.Layout  // learned from the deployment when New runs
	store     *archive.Store // nil: no archive, or not opened by a role of this process
	in        *ingest.Ingest // the intake of the ingest and mqtt roles; nil: neither runs here
	// engineArchive queries the archive (counts, replay, rebuild); nil until first needed.
	engineArchive *archive.Engine
	engine        *gin.Engine
	api           *gin.RouterGroup // /v1

	ready     atomic.Bool
	readyzLog throttle // readyz's Redis errors are logged, at most every readyzLogEvery
	runners   []runner // long-lived components, stopped after HTTP has drained
	onStop    []func() // called when shutdown starts (close WebSockets, …)
	// drains run after HTTP has drained and before the components stop: work that still
	// needs them (the MQTT intake hands its last messages to the ingest writer).
	drains    []func(context.Context)
	closers   []func() error // called last
	listener  net.Listener
	addrReady chan struct{}
	mu        sync.Mutex
}

type runner struct {
	name string
	run  func(context.Context) error
}

// New validates cfg, connects to Redis and mounts the configured roles. It does not listen yet.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	a, err := Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if a.keys.Open() {
		log.Warn("no API keys configured (PULSE_API_KEYS): the API is open to anyone who can reach it")
	}
	a.engine = httpapi.Engine(log)
	a.engine.Use(a.reg.Middleware)
	if err := a.useEdge(); err != nil {
		a.close()
		return nil, err
	}
	a.engine.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	a.engine.GET("/readyz", a.readyz)
	a.engine.GET("/metrics", a.reg.Handler())
	a.api = a.engine.Group("/v1")

	mounts := []struct {
		role  string
		mount func() error
	}{
		{"ingest", a.mountIngest},
		{"counter", a.mountCounter},
		{"live", a.mountLive},
		{"indexer", a.mountIndexer},
		{"archiver", a.mountArchiver},
		{"mqtt", a.mountMQTT},
	}
	for _, m := range mounts {
		if !a.cfg.Has(m.role) {
			continue
		}
		if err := m.mount(); err != nil {
			a.close()
			return nil, fmt.Errorf("%s: %w", m.role, err)
		}
	}
	if err := a.mountFrontend(); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return a, nil
}

// Open validates cfg, connects to Redis and learns the deployment, without mounting any role:
// New goes on from there; one-off commands (pulse replay, pulse rebuild) use it alone and
// Close it.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	a := &App{cfg: cfg, log: log, reg: telemetry.New(), addrReady: make(chan struct{})}
	a.windows, _ = events.ParseWindows(cfg.Windows)
	a.keys = httpapi.NewKeys(cfg.APIKeys, cfg.BrowserKeys)
	// Nothing is served or written before the deployment's settings are checked: a process
	// with another partition count or other windows must not take a single event.
	var err error
	if a.redisOpts, err = connect(ctx, cfg.RedisURL, log); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	a.redisOpts.ReadTimeout, a.redisOpts.WriteTimeout = cfg.RedisTimeout, cfg.RedisTimeout
	// Every consumer group (counter, indexer, archiver) holds one connection per partition in a
	// blocking read: with fewer than that, readers queue for connections (128 partitions on the
	// former fixed 64 drained at 3% of the rate of 16: BENCHMARKS.md). Per node of a cluster, an
	// upper bound.
	a.redisOpts.PoolSize = 64 + 3*cfg.Partitions
	a.rdb = a.newRedis(nil)
	d, err := events.Deployment{Layout: events.Layout{Partitions: cfg.Partitions}, Windows: a.windows}.Await(ctx, a.rdb, log)
	if err != nil {
		a.close()
		return nil, err
	}
	a.layout = d.Layout
	return a, nil
}

// Close releases what Open took (Run does it itself).
func (a *App) Close() { a.close() }

func (a *App) deployment() events.Deployment {
	return events.Deployment{Layout: a.layout, Windows: a.windows}
}

func (a *App) readyz(c *gin.Context) {
	if !a.ready.Load() {
		httpapi.Abort(c, events.Unavailable("not_ready", "starting or shutting down", time.Second))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
	defer cancel()
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		// The error names Redis's address; /readyz answers anyone, so it goes to the log only.
		if a.readyzLog.allow(readyzLogEvery) {
			a.log.Warn("readyz: redis is unreachable", "err", err)
		}
		httpapi.Abort(c, events.Unavailable("redis_unavailable", "redis is unreachable", time.Second))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "roles": a.cfg.Roles})
}

// Layout is the deployment's partition layout, as New learned it from Redis.
func (a *App) Layout() events.Layout { return a.layout }

// Handler is the HTTP handler of the process (tests may serve it with httptest).
func (a *App) Handler() http.Handler { return a.engine }

// Addr is the address the server listens on, once Run has bound it.
func (a *App) Addr() string {
	<-a.addrReady
	return a.listener.Addr().String()
}

// Run serves until ctx ends, then shuts down in order: not ready, stop WebSockets, drain HTTP
// (in-flight requests finish and their events are committed), stop the components, close.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.listener = ln
	close(a.addrReady)

	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           a.engine,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       a.cfg.IdleTimeout, // bodies and answers: httpapi.Deadlines (streams last)
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}
	srv.RegisterOnShutdown(func() {
		for _, f := range a.onStop {
			f()
		}
	})

	// Components outlive the HTTP server: the ingest writer must commit what in-flight requests
	// queued. workCtx ends only after the server has drained.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	g, gctx := errgroup.WithContext(workCtx)
	for _, r := range a.runners {
		g.Go(func() error {
			if err := r.run(gctx); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			return nil
		})
	}
	g.Go(func() error { return a.keepReady(gctx) })
	if a.cfg.AdminAddr != "" {
		g.Go(func() error { a.serveAdmin(gctx); return nil })
	}

	var serving sync.WaitGroup
	serveErr := make(chan error, 1)
	serving.Go(func() { serveErr <- srv.Serve(ln) })
	a.log.Info("serving", "addr", ln.Addr().String(), "roles", a.cfg.Roles, "partitions", a.layout.Partitions, "tags", a.layout.Tags)

	var runErr error
	select {
	case <-ctx.Done():
	case <-gctx.Done():
		runErr = errors.New("a component stopped")
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	}
	a.log.Info("shutting down")
	a.ready.Store(false)
	shCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil {
		a.log.Warn("http shutdown", "err", err)
	}
	serving.Wait()
	cancelBase()
	for _, drain := range a.drains {
		drain(shCtx)
	}
	stopWork()
	if err := g.Wait(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	a.log.Info("stopped", "err", runErr)
	return runErr
}

// keepReady creates the streams and groups (readiness waits for them), then checks the
// deployment again every few seconds while Run lasts: a Redis that lost its data gets it
// recorded again, and should the recorded settings now differ (a process with other settings
// recorded them first), this process stops with an error rather than write under them.
func (a *App) keepReady(ctx context.Context) error {
	d := a.deployment()
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = time.Second
		_, err := d.Record(ctx, a.rdb)
		if err == nil {
			err = consumers.CreateGroups(ctx, a.rdb, a.layout, a.cfg.Groups())
		}
		switch {
		case errors.Is(err, events.ErrMismatch):
			return err
		case err != nil && !a.ready.Load():
			if ctx.Err() == nil {
				a.log.Warn("redis not ready", "err", err)
			}
		case err != nil: // the components report outages themselves
			wait = readyCheck
		default:
			a.ready.Store(true)
			wait = readyCheck
		}
	}
}

// readyCheck is the period of keepReady's checks once ready.
const readyCheck = 5 * time.Second

func (a *App) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn("close", "err", err)
		}
	}
	a.closers = nil
}

// addRunner registers a long-lived component.
func (a *App) addRunner(name string, run func(context.Context) error) {
	a.runners = append(a.runners, runner{name: name, run: run})
}

// group sets in a role's consumer-group config what every group of the process shares.
func (a *App) group(g consumers.Config) consumers.Config {
	c := a.cfg.Consumers
	g.Consumer, g.Layout, g.ClaimIdle, g.MaxDeliveries, g.FailedMaxLen = c.Consumer, a.layout, c.ClaimIdle, c.MaxDeliveries, c.FailedMaxLen
	return g
}
