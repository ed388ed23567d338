package loadgen_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/loadgen"
	"github.com/pulsehq/pulse/integration"
)

// The tool against a whole Pulse (ingest, counter, live in one process, real Redis): every
// accepted event is counted, seen live, and the counts match at the end.
func TestRunAgainstPulse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  loadgen.Config
	}{
		{"single events, max rate", loadgen.Config{Concurrency: 4, Duration: 2 * time.Second, Subjects: 20, Zipf: 1.1}},
		{"batches at a fixed rate with fan-out", loadgen.Config{
			Batch: 10, Rate: 2000, Concurrency: 4, Duration: 2 * time.Second, Subjects: 300, Zipf: 0.8,
			Track: 150, IDs: true, Connections: 5,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := integration.Start(t, nil, nil)
			cfg := tt.cfg
			cfg.URL = p.URL
			res, err := loadgen.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			var out strings.Builder
			if err := res.WriteTable(&out); err != nil {
				t.Fatal(err)
			}
			t.Logf("redis %s\n%s", p.Redis.Kind, out.String())

			if res.Accepted == 0 || res.Requests == 0 {
				t.Fatalf("nothing accepted: %+v", res)
			}
			if len(res.Status) != 1 || res.Status["202"] != res.Requests {
				t.Errorf("statuses %v: want every request answered 202", res.Status)
			}
			if want := res.Accepted; res.Duplicates != 0 || res.Rejected != 0 || res.Unknown != 0 {
				t.Errorf("accepted %d, duplicates %d, rejected %d, unknown %d: want only accepted", want, res.Duplicates, res.Rejected, res.Unknown)
			}
			if len(res.Drift) == 0 {
				t.Fatalf("no window checked: %v", res.Notes)
			}
			for _, d := range res.Drift {
				if d.Diff != 0 || d.Mismatched != 0 || d.Expected != res.Accepted {
					t.Errorf("window %s: expected %d, observed %d, %d subjects differ (accepted %d)", d.Window, d.Expected, d.Observed, d.Mismatched, res.Accepted)
				}
			}
			if res.E2E == nil || res.E2E.Count == 0 {
				t.Fatalf("no end-to-end latency measured: %v", res.Notes)
			}
			if res.Unresolved != 0 {
				t.Errorf("%d accepted events never showed in a live update", res.Unresolved)
			}
			subs := (cfg.Track + 99) / 100
			if cfg.Track == 0 {
				subs = 1 // default tracks every subject when there are ≤ 100
			}
			if want := uint64(subs + cfg.Connections); res.Snapshot == nil || res.Snapshot.Count != want {
				t.Errorf("snapshots %v, want %d (one per subscription)", res.Snapshot, want)
			}
			if n := int64(cfg.Connections); n > 0 && (res.Fanout == nil || res.Fanout.Connections != n || res.Fanout.Failed != 0 || res.Fanout.Snapshots != n) {
				t.Errorf("fan-out %+v, want %d connections", res.Fanout, cfg.Connections)
			}
		})
	}
}

func TestRunUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: "http://" + addr, Duration: time.Second})
	if err == nil || res != nil {
		t.Fatalf("Run against a closed port = %+v, %v; want an error and no result", res, err)
	}
}
