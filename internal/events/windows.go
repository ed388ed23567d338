package events

import (
	"fmt"
	"strings"
	"time"
)

// Window is one rolling window: its name on the wire ("1m") and its length. Lengths are whole
// seconds: counting has one-second resolution.
type Window struct {
	Name string
	D    time.Duration
}

// DefaultWindows is "1m,5m,10m".
const DefaultWindows = "1m,5m,10m"

// ParseWindows reads a comma-separated list of durations, shortest first.
func ParseWindows(s string) ([]Window, error) {
	if strings.TrimSpace(s) == "" {
		s = DefaultWindows
	}
	var ws []Window
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		d, err := time.ParseDuration(name)
		if err != nil {
			return nil, fmt.Errorf("window %q: %w", name, err)
		}
		if d < time.Second || d%time.Second != 0 {
			return nil, fmt.Errorf("window %q: must be a whole number of seconds", name)
		}
		if len(ws) > 0 && d <= ws[len(ws)-1].D {
			return nil, fmt.Errorf("window %q: windows must be listed shortest first, without repeats", name)
		}
		ws = append(ws, Window{Name: name, D: d})
	}
	return ws, nil
}

// Names lists the windows' names in order.
func Names(ws []Window) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Name
	}
	return out
}

// FindWindow returns the index of the window named name, or -1.
func FindWindow(ws []Window, name string) int {
	for i, w := range ws {
		if w.Name == name {
			return i
		}
	}
	return -1
}
