package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/loadgen"
)

// The reference of the fan-out section: Centrifugo, installed from the Go module proxy into the
// user's cache folder (never into the repository).
const centrifugoModule = "github.com/centrifugal/centrifugo/v6@v6.9.1"

// fanoutScenario is one row pair of the fan-out table: the same clients and publisher against
// a `--roles live` pulse (fed by an ingest,counter process) and against Centrifugo.
type fanoutScenario struct {
	name    string
	clients int
	rate    float64       // events/s; 0 = idle
	idle    time.Duration // clients idle before publishing
}

type fanoutRun struct {
	fanoutScenario
	pulse, centrifugo *loadgen.FanoutResult
}

func measureFanout(ctx context.Context, dir, bin string, redisPort int, scale float64, publish time.Duration) ([]fanoutRun, error) {
	centrifugo, err := installCentrifugo(ctx)
	if err != nil {
		return nil, err
	}
	var runs []fanoutRun
	for _, sc := range []fanoutScenario{
		{name: "1,000 clients, 100 events/s", clients: int(1000 * scale), rate: 100},
		{name: "5,000 clients, 1,000 events/s", clients: int(5000 * scale), rate: 1000},
		// Two ping intervals of both servers (25 s).
		{name: "10,000 idle clients", clients: int(10_000 * scale), idle: time.Duration(max(scale*60, 3)) * time.Second},
	} {
		run := fanoutRun{fanoutScenario: sc}
		for _, target := range []string{loadgen.TargetPulse, loadgen.TargetCentrifugo} {
			logf("fan-out: %s, %s", sc.name, target)
			if err := flushRedis(ctx, redisPort); err != nil {
				return nil, err
			}
			cfg := loadgen.FanoutConfig{Target: target, Clients: sc.clients, Subjects: 100, Zipf: 1.1, Rate: sc.rate,
				Duration: publish, Idle: sc.idle}
			var res *loadgen.FanoutResult
			if target == loadgen.TargetPulse {
				res, err = fanoutPulse(ctx, dir, bin, redisPort, cfg)
			} else {
				res, err = fanoutCentrifugo(ctx, dir, centrifugo, redisPort, cfg)
			}
			if err != nil {
				return nil, fmt.Errorf("fan-out %s, %s: %w", sc.name, target, err)
			}
			if target == loadgen.TargetPulse {
				run.pulse = res
			} else {
				run.centrifugo = res
			}
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// fanoutPulse runs cfg against a live process, fed by an ingest and counter process: the
// live process's CPU is what is compared.
func fanoutPulse(ctx context.Context, dir, bin string, redisPort int, cfg loadgen.FanoutConfig) (*loadgen.FanoutResult, error) {
	env := []string{
		fmt.Sprintf("PULSE_REDIS_URL=redis://127.0.0.1:%d/0", redisPort),
		"PULSE_LIVE_MAX_CONNS=20000", "PULSE_LIVE_MAX_CONNS_PER_ADDR=20000",
		// Every change goes out as it comes: a frame per change, as Centrifugo sends a
		// publication per event.
		"PULSE_LIVE_INTERVAL=1ms",
	}
	feed, err := startPulse(dir, bin, "fanout-ingest", append(env, "PULSE_ROLES=ingest,counter"))
	if err != nil {
		return nil, err
	}
	defer feed.stop()
	live, err := startPulse(dir, bin, "fanout-live", append(env, "PULSE_ROLES=live"))
	if err != nil {
		return nil, err
	}
	defer live.stop()
	cfg.URL, cfg.PublishURL, cfg.ServerPID = live.url, feed.url, live.cmd.Process.Pid
	return loadgen.RunFanout(ctx, cfg)
}

// fanoutCentrifugo runs cfg against Centrifugo with its Redis engine on the suite's Redis,
// clients connecting without a token and publishing through the HTTP API, on loopback.
func fanoutCentrifugo(ctx context.Context, dir, bin string, redisPort int, cfg loadgen.FanoutConfig) (*loadgen.FanoutResult, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"health":      map[string]any{"enabled": true},
		"log":         map[string]any{"level": "warn"},
		"client":      map[string]any{"insecure": true, "allowed_origins": []string{"*"}},
		"http_api":    map[string]any{"insecure": true},
		"engine":      map[string]any{"type": "redis", "redis": map[string]any{"address": []string{fmt.Sprintf("redis://127.0.0.1:%d", redisPort)}}},
	}
	b, _ := json.Marshal(conf)
	path := filepath.Join(dir, "centrifugo.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	var res *loadgen.FanoutResult
	_, err = withProcessOn(ctx, dir, "centrifugo", fmt.Sprintf("127.0.0.1:%d", port), "/health", func(string) *exec.Cmd {
		cmd = exec.Command(bin, "--config", path)
		return cmd
	}, func(url string) (*loadgen.Result, error) {
		cfg.URL, cfg.ServerPID = url, cmd.Process.Pid
		var err error
		res, err = loadgen.RunFanout(ctx, cfg)
		return nil, err
	})
	return res, err
}

// installCentrifugo returns the Centrifugo binary, installed on first use with go install.
func installCentrifugo(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	gobin := filepath.Join(cache, "pulse", "bench", "centrifugo-v6.9.1")
	bin := filepath.Join(gobin, "centrifugo")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	logf("installing %s into %s (first run only)", centrifugoModule, gobin)
	cmd := exec.CommandContext(ctx, "go", "install", centrifugoModule)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %v\n%s", centrifugoModule, err, out)
	}
	return bin, nil
}

func flushRedis(ctx context.Context, port int) error {
	if out, err := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(port), "FLUSHALL").CombinedOutput(); err != nil {
		return fmt.Errorf("flush redis: %v: %s", err, out)
	}
	return nil
}
