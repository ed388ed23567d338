package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/frontend"
	"github.com/pulsehq/pulse/internal/testenv"
)

// The browser tests drive the embedded dashboard in headless Chromium (Debian's package) with
// @playwright/test (frontend/e2e/*.spec.ts, frontend/playwright.config.ts) against a whole pulse
// on a real Redis. They run when PULSE_E2E=1 (go tool task test sets it); then a missing
// prerequisite fails them. Playwright never downloads a browser: the config points at
// /usr/bin/chromium (or PULSE_CHROMIUM).
//
// They are not parallel on purpose: Chromium gets the package's CPU to itself instead of sharing
// it. They wait for conditions with generous bounds and report how long things took (a like's
// click to its count) rather than assert it.

// TestBrowser runs the projects desktop (1440 px: every check) and mobile (390 px: layout and
// accessibility), and shots when PULSE_E2E_SHOTS_DIR is set (the README's screenshots,
// PULSE_E2E_SHOTS_DIR=../docs: relative to frontend/).
func TestBrowser(t *testing.T) {
	projects := []string{"desktop", "mobile"}
	if os.Getenv("PULSE_E2E_SHOTS_DIR") != "" {
		projects = append(projects, "shots")
	}
	runE2E(t, "the dashboard checks", projects, 10*time.Minute)
}

// TestBrowserSmoothness runs 12 generators at 600 likes/min each and reports frame times over
// 30 s. It measures rather than gates (CI machines vary), so it runs on request only:
// PULSE_E2E=1 PULSE_E2E_SMOOTH=1.
func TestBrowserSmoothness(t *testing.T) {
	if os.Getenv("PULSE_E2E_SMOOTH") != "1" {
		t.Skip("measures board smoothness for 30 s; set PULSE_E2E_SMOOTH=1 (with PULSE_E2E=1) to run it")
	}
	runE2E(t, "smoothness", []string{"smooth"}, 4*time.Minute)
}

func runE2E(t *testing.T, what string, projects []string, timeout time.Duration) {
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
	cli := filepath.Join("node_modules", "@playwright", "test", "cli.js")
	if _, err := os.Stat(filepath.Join(dir, cli)); err != nil {
		t.Fatal("PULSE_E2E=1 but frontend/node_modules/@playwright/test is missing: run `npm ci` in frontend/ (go tool task frontend)")
	}
	if _, err := fs.Stat(frontend.Dist(), "index.html"); err != nil {
		t.Fatal("PULSE_E2E=1 but this test binary embeds no dashboard: run `npm run build` in frontend/ before `go test` (go tool task frontend)")
	}

	const partitions = 8
	p := Start(t, nil, func(c *app.Config) { c.Partitions = partitions })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{cli, "test"}
	for _, pr := range projects {
		args = append(args, "--project="+pr)
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PULSE_URL="+p.URL,
		"PULSE_CHROMIUM="+chromium,
		"PULSE_E2E_PARTITIONS="+strconv.Itoa(partitions),
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1",
		"PLAYWRIGHT_HTML_OPEN=never",
		"FORCE_COLOR=0",
	)
	// Ended with the context: Playwright's own children (Chromium) go with it.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	t.Logf("%s: node %s (in frontend/, PULSE_URL=%s)", what, strings.Join(args, " "), p.URL)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		where := failureArtifacts(dir)
		var exit *exec.ExitError
		if errors.As(err, &exit) && ctx.Err() == nil {
			t.Fatalf("%s failed (exit %d): see the failures above.\n%s", what, exit.ExitCode(), where)
		}
		t.Fatalf("%s: %v (timeout %s)\n%s", what, err, timeout, where)
	}
}

// failureArtifacts says where Playwright kept the traces and screenshots of failed tests, and
// how to open them.
func failureArtifacts(dir string) string {
	var b strings.Builder
	b.WriteString("Traces and screenshots of failed tests are in frontend/test-results/ (the HTML report: cd frontend && npx playwright show-report).\n")
	traces, _ := filepath.Glob(filepath.Join(dir, "test-results", "*", "trace.zip"))
	if len(traces) == 0 {
		b.WriteString("Open a trace: cd frontend && npx playwright show-trace test-results/<test>/trace.zip")
	}
	for _, tr := range traces {
		rel, err := filepath.Rel(dir, tr)
		if err != nil {
			rel = tr
		}
		fmt.Fprintf(&b, "  cd frontend && npx playwright show-trace %s\n", rel)
	}
	return b.String()
}
