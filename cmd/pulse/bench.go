package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/pulsehq/pulse/cmd/pulse/loadgen"
)

// bench runs the load tool against a running pulse and prints what it measured. It fails when
// the counts drifted from what ingest accepted, so scripts can rely on its exit code.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c loadgen.Config
	d := loadgen.Defaults()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "base URL of a running pulse (or the compose gateway)")
	fs.StringVar(&c.APIKey, "api-key", "", "API key, sent as a Bearer token")
	fs.StringVar(&c.Type, "type", d.Type, "event type")
	fs.IntVar(&c.Subjects, "subjects", d.Subjects, "distinct subjects")
	fs.Float64Var(&c.Zipf, "zipf", 0, "popularity skew s (subject of rank k ∝ 1/(k+1)^s); 0 = uniform, 1.1 = typical")
	fs.StringVar(&c.Prefix, "prefix", "", "subject prefix (default: random, so the count check starts from zero)")
	fs.BoolVar(&c.IDs, "ids", false, "send a client id with every event (exercises dedupe)")
	fs.IntVar(&c.Batch, "batch", d.Batch, "events per request (1 = single-event requests)")
	fs.Float64Var(&c.Rate, "rate", 0, "events per second over all workers (0 = as fast as possible)")
	fs.IntVar(&c.Concurrency, "concurrency", d.Concurrency, "parallel HTTP senders")
	fs.DurationVar(&c.Duration, "duration", d.Duration, "how long to send")
	fs.BoolVar(&c.NoLive, "no-live", false, "skip the WebSocket end-to-end measurement")
	fs.IntVar(&c.Connections, "connections", 0, "extra idle WebSocket subscribers, to test fan-out")
	fs.IntVar(&c.Track, "track", d.Track, "hottest subjects whose end-to-end latency is measured")
	fs.DurationVar(&c.Settle, "settle", d.Settle, "longest wait for counts to catch up after sending")
	fs.Uint64Var(&c.Seed, "seed", 0, "seed of the subject sequence (0 = from the clock)")
	var fc loadgen.FanoutConfig
	fs.IntVar(&fc.Clients, "fanout", 0, "instead: the fan-out comparison with this many WebSocket clients, client i on subject i mod -subjects (uses -url, -api-key, -type, -subjects, -zipf, -rate, -duration, -seed)")
	fs.StringVar(&fc.Target, "target", loadgen.TargetPulse, "with -fanout: pulse, or centrifugo (-url is Centrifugo's, -api-key its HTTP API key)")
	fs.StringVar(&fc.PublishURL, "publish-url", "", "with -fanout and pulse: where events are sent, when ingest runs in another process than live (default -url)")
	fs.DurationVar(&fc.Idle, "idle", 0, "with -fanout: how long the clients sit idle before publishing")
	fs.IntVar(&fc.ServerPID, "server-pid", 0, "with -fanout: the server process, whose CPU is reported (Linux /proc)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write the load tool's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if fc.Clients > 0 {
		fc.URL, fc.APIKey, fc.Type, fc.Subjects, fc.Zipf, fc.Rate, fc.Duration, fc.Seed = c.URL, c.APIKey, c.Type, c.Subjects, c.Zipf, c.Rate, c.Duration, c.Seed
		return fanout(ctx, fc, *asJSON, stdout)
	}
	res, err := loadgen.Run(ctx, c)
	if res == nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := show(stdout, res, *asJSON); err != nil {
		return err
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("bench: %w", err)
	}
	for _, d := range res.Drift {
		if d.Diff != 0 || d.Mismatched != 0 {
			return fmt.Errorf("bench: counts drifted in window %s: observed %d, expected %d", d.Window, d.Observed, d.Expected)
		}
	}
	return nil
}

// fanout runs the fan-out comparison and prints what it measured.
func fanout(ctx context.Context, c loadgen.FanoutConfig, asJSON bool, stdout io.Writer) error {
	res, err := loadgen.RunFanout(ctx, c)
	if res != nil {
		if err := show(stdout, res, asJSON); err != nil {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// show prints a result as JSON, or as a table for people.
func show(w io.Writer, res interface{ WriteTable(io.Writer) error }, asJSON bool) error {
	if !asJSON {
		return res.WriteTable(w)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
