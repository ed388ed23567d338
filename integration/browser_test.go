package integration

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/frontend"
	"github.com/pulsehq/pulse/internal/testenv"
)

// The browser tests drive the embedded dashboard in headless Chromium (Debian's package, via
// playwright-core; frontend/e2e/run.mjs) against a whole pulse on a real Redis. They run when
// PULSE_E2E=1 (go tool task test sets it); then a missing prerequisite fails them.
//
// They are not parallel on purpose: Chromium gets the package's CPU to itself instead of sharing
// it. They wait for conditions with generous bounds and report how long things took (a like's
// click to its count) rather than assert it.

func TestBrowser(t *testing.T) {
	runE2E(t, "the dashboard checks", nil, 3*time.Minute)
}

// TestBrowserSmoothness runs 12 generators at 600 likes/min each and reports frame times over
// 30 s. It measures rather than gates (CI machines vary), so it runs on request only:
// PULSE_E2E=1 PULSE_E2E_SMOOTH=1.
func TestBrowserSmoothness(t *testing.T) {
	if os.Getenv("PULSE_E2E_SMOOTH") != "1" {
		t.Skip("measures board smoothness for 30 s; set PULSE_E2E_SMOOTH=1 (with PULSE_E2E=1) to run it")
	}
	runE2E(t, "smoothness", []string{"--smooth"}, 3*time.Minute)
}

func runE2E(t *testing.T, what string, args []string, timeout time.Duration) {
	if os.Getenv("PULSE_E2E") != "1" {
		t.Skip("browser tests run with PULSE_E2E=1 (they need chromium, node, frontend/node_modules and a built frontend/dist; go tool task test sets it up)")
	}
	dir := filepath.Join(testenv.RepoRoot(), "frontend")
	chromium := os.Getenv("PULSE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("PULSE_E2E=1 but no Chromium at %s: apt-get install -y chromium (or set PULSE_CHROMIUM)", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("PULSE_E2E=1 but node is not on PATH: install Node.js 20 or later")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		t.Fatal("PULSE_E2E=1 but frontend/node_modules is missing: run `npm ci` in frontend/ (go tool task frontend)")
	}
	if _, err := fs.Stat(frontend.Dist(), "index.html"); err != nil {
		t.Fatal("PULSE_E2E=1 but this test binary embeds no dashboard: run `npm run build` in frontend/ before `go test` (go tool task frontend)")
	}

	const partitions = 8
	p := Start(t, nil, func(c *app.Config) { c.Partitions = partitions })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"e2e/run.mjs"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PULSE_URL="+p.URL,
		"PULSE_CHROMIUM="+chromium,
		"PULSE_E2E_PARTITIONS="+strconv.Itoa(partitions),
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && ctx.Err() == nil {
			t.Fatalf("%s failed (exit %d): see the FAIL lines above; screenshots in frontend/e2e-shots/", what, exit.ExitCode())
		}
		t.Fatalf("%s: %v", what, err)
	}
}
