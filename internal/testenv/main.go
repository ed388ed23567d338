package testenv

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
)

// Main runs a package's tests and examples after setup, for servers that examples need: an
// Example gets no *testing.T, so setup gets a stand-in whose Fatal ends the run. Cleanups run
// after the tests. It returns the exit code for os.Exit.
func Main(m *testing.M, setup func(t testing.TB)) (code int) {
	flag.Parse() // m.Run would parse them; setup may read -v (testing.Verbose) first
	t := &mainT{}
	defer func() {
		t.cleanup()
		if r := recover(); r != nil {
			if _, ok := r.(mainFatal); !ok {
				panic(r)
			}
			fmt.Fprintln(os.Stderr, "TestMain set-up failed:", t.log)
			code = 1
		}
		if t.failed && code == 0 {
			code = 1
		}
	}()
	setup(t)
	return m.Run()
}

// mainT is the testing.TB of Main's setup: what the helpers of this package and the
// integration harness use. testing.TB cannot be implemented outside the testing package, so
// it is embedded (nil): any other method panics, which a test run shows at once.
type mainT struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	log      []string
	failed   bool
}

type mainFatal struct{}

func (t *mainT) Helper()      {}
func (t *mainT) Name() string { return "TestMain" }
func (t *mainT) Failed() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.failed }
func (t *mainT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}
func (t *mainT) Log(args ...any)                 { t.logf("%s", fmt.Sprint(args...)) }
func (t *mainT) Logf(format string, args ...any) { t.logf(format, args...) }
func (t *mainT) Error(args ...any)               { t.fail(fmt.Sprint(args...)) }
func (t *mainT) Errorf(format string, args ...any) {
	t.fail(fmt.Sprintf(format, args...))
}
func (t *mainT) Fatal(args ...any) { t.fail(fmt.Sprint(args...)); panic(mainFatal{}) }
func (t *mainT) Fatalf(format string, args ...any) {
	t.fail(fmt.Sprintf(format, args...))
	panic(mainFatal{})
}

func (t *mainT) TempDir() string {
	dir, err := os.MkdirTemp("", "pulse-main-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *mainT) logf(format string, args ...any) {
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

func (t *mainT) fail(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
	t.log = append(t.log, msg)
	fmt.Fprintln(os.Stderr, "TestMain:", msg)
}

// cleanup runs the cleanups, last registered first, as testing does.
func (t *mainT) cleanup() {
	t.mu.Lock()
	fs := slices.Clone(t.cleanups)
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
