package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, fs, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	log.Info("starting pulse", "version", version, "config", effective(fs))
	if at := getenv("PULSE_TEST_ARCHIVE_KILL"); at != "" {
		cfg.Archiver.Crash = killAt(at, log)
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// effective lists every setting with secrets masked, for the one start-up log line.
func effective(fs *flag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if strings.Contains(f.Name, "key") && v != "" {
			v = "***"
		}
		if strings.Contains(f.Name, "redis-url") {
			v = maskURLPassword(v)
		}
		out[envName(f.Name)] = v
	})
	return out
}

func maskURLPassword(s string) string {
	var parts []string
	for _, u := range strings.Split(s, ",") {
		if at := strings.LastIndex(u, "@"); at > 0 {
			if i := strings.Index(u, "://"); i >= 0 && i+3 < at {
				u = u[:i+3] + "***" + u[at:]
			}
		}
		parts = append(parts, u)
	}
	return strings.Join(parts, ",")
}

func health(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	// The process listens on PULSE_ADDR's port whatever its host part (":8080", "0.0.0.0:8080").
	_, port, err := net.SplitHostPort(or(getenv("PULSE_ADDR"), ":8080"))
	if err != nil {
		return fmt.Errorf("health: PULSE_ADDR: %w", err)
	}
	url := fs.String("url", "http://"+net.JoinHostPort("127.0.0.1", port)+"/readyz", "readiness URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	fmt.Fprintf(stdout, "%d %s\n", res.StatusCode, strings.TrimSpace(string(body)))
	if res.StatusCode != http.StatusOK {
		return errors.New("not ready")
	}
	return nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// killAt returns an archiver crash hook for the crash tests: PULSE_TEST_ARCHIVE_KILL=<step>
// SIGKILLs the process the first time any partition's commit reaches step (staged, put, ack,
// acked: consumers/archiver). Never set outside tests.
func killAt(step string, log *slog.Logger) func(string, int) {
	log.Warn("PULSE_TEST_ARCHIVE_KILL is set: this process kills itself during an archive commit", "step", step)
	return func(at string, partition int) {
		if at == step {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // SIGKILL is not handled: nothing after it runs
		}
	}
}
