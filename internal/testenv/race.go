//go:build race

package testenv

// raceEnabled: this test binary runs under the race detector, and so do the pulse processes it
// starts (PulseBinary).
const raceEnabled = true
