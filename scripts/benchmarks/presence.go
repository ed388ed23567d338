package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/cmd/pulse/loadgen"
)

// presenceRun is what "who is watching" costs one live process holding many connections, each
// subscribed to one subject of 100, with or without "watch".
type presenceRun struct {
	watch       bool
	conns       int
	idleCPU     float64       // the process's CPU, in cores, while every connection sits idle
	churnClosed int           // connections closed at once, a tenth of them
	churnCPU    float64       // CPU seconds from the closes until every subject showed its new count
	settle      time.Duration // the closes to the last subject showing its new count (watch only)
	frames      int64         // frames the churn sent to the connections left
	redisBytes  int64         // MEMORY USAGE of the process's presence hash
}

const presenceSubjects = 100

// measurePresence runs the scenario with watch off, then on, each on a fresh live process.
func measurePresence(ctx context.Context, dir, bin string, redisPort, conns int, hold time.Duration) ([]presenceRun, error) {
	var runs []presenceRun
	for _, watch := range []bool{false, true} {
		var cmd *exec.Cmd
		mk := func(addr string) *exec.Cmd {
			cmd = pulseCmd(bin, dir, redisPort)("live")(addr)
			return cmd
		}
		var run presenceRun
		_, err := withProcess(ctx, dir, "pulse-presence", mk, func(url string) (*loadgen.Result, error) {
			var err error
			run, err = presenceScenario(ctx, url, cmd.Process.Pid, redisPort, watch, conns, hold)
			return nil, err
		})
		if err != nil {
			return nil, fmt.Errorf("presence (watch %v): %w", watch, err)
		}
		runs = append(runs, run)
	}
	return runs, nil
}

func presenceScenario(ctx context.Context, url string, pid, redisPort int, watch bool, conns int, hold time.Duration) (presenceRun, error) {
	run := presenceRun{watch: watch, conns: conns}
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/v1/live"
	var (
		all       []*websocket.Conn
		snapshots atomic.Int64
		frames    atomic.Int64
		// watching per subject as the last probe frame said (probes: the first connection of
		// each subject, never closed)
		seen = make([]atomic.Int64, presenceSubjects)
	)
	defer func() {
		for _, c := range all {
			_ = c.CloseNow()
		}
	}()
	for i := range conns {
		subject := i % presenceSubjects
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, _, err := websocket.Dial(dctx, wsURL, nil)
		cancel()
		if err != nil {
			return run, fmt.Errorf("dial %d: %w", i, err)
		}
		msg, _ := json.Marshal(map[string]any{"op": "subscribe", "id": "s", "type": "video_liked",
			"subjects": []string{"video-" + strconv.Itoa(subject)}, "watch": watch})
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			return run, fmt.Errorf("subscribe %d: %w", i, err)
		}
		probe := i < presenceSubjects
		go func() {
			for {
				_, b, err := c.Read(context.Background())
				if err != nil {
					return
				}
				if !strings.HasPrefix(string(b), `{"op":"snapshot"`) {
					frames.Add(1)
				} else {
					snapshots.Add(1)
				}
				if probe {
					var f client.Frame
					if json.Unmarshal(b, &f) == nil && len(f.Counts) == 1 && f.Counts[0].Watching != nil {
						seen[subject].Store(*f.Counts[0].Watching)
					}
				}
			}
		}()
		all = append(all, c)
	}
	per := int64(conns / presenceSubjects)
	settled := func(want int64) bool {
		if !watch {
			return true
		}
		for i := range seen {
			if seen[i].Load() != want {
				return false
			}
		}
		return true
	}
	if err := waitFor(ctx, "every snapshot, and watching settled", func() bool { return snapshots.Load() == int64(conns) && settled(per) }); err != nil {
		return run, fmt.Errorf("%d of %d snapshots: %w", snapshots.Load(), conns, err)
	}
	time.Sleep(2 * time.Second) // the last syncs' updates go out

	cpu0, err := processCPU(pid)
	if err != nil {
		return run, err
	}
	select {
	case <-time.After(hold):
	case <-ctx.Done():
		return run, ctx.Err()
	}
	cpu1, err := processCPU(pid)
	if err != nil {
		return run, err
	}
	run.idleCPU = (cpu1 - cpu0) / hold.Seconds()
	if watch {
		out, err := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(redisPort), "--scan", "--pattern", "pulse:watch:*").Output()
		if err != nil {
			return run, fmt.Errorf("scan presence keys: %w", err)
		}
		for _, k := range strings.Fields(string(out)) {
			b, _ := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(redisPort), "MEMORY", "USAGE", k).Output()
			n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			run.redisBytes += n
		}
	}

	// Churn: a tenth of the connections (never a probe) close at once.
	frames.Store(0)
	cpu0, _ = processCPU(pid)
	start := time.Now()
	run.churnClosed = conns / 10
	for _, c := range all[len(all)-run.churnClosed:] {
		_ = c.CloseNow()
	}
	all = all[:len(all)-run.churnClosed]
	if err := waitFor(ctx, "watching to settle after the closes", func() bool { return settled(per - per/10) }); err != nil {
		return run, err
	}
	run.settle = time.Since(start)
	time.Sleep(2 * time.Second) // same span for both variants: what the closes cost in all
	cpu1, _ = processCPU(pid)
	run.churnCPU = cpu1 - cpu0
	run.frames = frames.Load()
	if !watch {
		run.settle = 0
	}
	return run, nil
}

// processCPU is a process's user and system CPU time so far, in seconds (Linux /proc).
func processCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	// Fields after the command name (which may hold spaces, so split after its ')').
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of %d: short stat", pid)
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100, nil // USER_HZ is 100 on Linux
}

func (r *report) presenceSection(p func(string, ...any)) {
	if len(r.presence) == 0 {
		return
	}
	p("## Who is watching (presence)")
	p("")
	p("`pulse serve --roles live` holding %d WebSocket connections from this machine, each subscribed", r.presence[0].conns)
	p("to one subject of %d (so %d watchers each), first without `watch`, then with it", presenceSubjects, r.presence[0].conns/presenceSubjects)
	p("(`PULSE_LIVE_PRESENCE_INTERVAL` 1 s). Idle: the live process's CPU over the hold (pings")
	p("included). Churn: a tenth of the connections close at once; CPU from the closes until every")
	p("remaining subscriber shows the new count, plus 2 s.")
	p("")
	p("| watch | idle CPU (cores) | churn: closed | churn CPU (s) | frames to the others | every subject right after | Redis memory |")
	p("| --- | --- | --- | --- | --- | --- | --- |")
	for _, x := range r.presence {
		settle, mem := "—", "—"
		if x.watch {
			settle = x.settle.Round(10 * time.Millisecond).String()
			mem = fmt.Sprintf("%d KiB", x.redisBytes/1024)
		}
		p("| %v | %.3f | %d | %.2f | %d | %s | %s |", x.watch, x.idleCPU, x.churnClosed, x.churnCPU, x.frames, settle, mem)
	}
	p("")
}
