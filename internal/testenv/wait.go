package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms until it holds or timeout passes, then fails the test with
// what. Tests wait for outcomes this way instead of sleeping a guessed duration.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
