package live

import (
	"strings"
	"testing"

	"github.com/pulsehq/pulse/internal/events"
)

// A zero setting takes its default, a negative one is refused, except the connection caps,
// where negative means none.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	base := Config{Windows: testWindows, Layout: events.Layout{Partitions: testPartitions, Tags: events.TagsNumbered}}
	for _, tc := range []struct {
		name    string
		tune    func(*Config)
		wantErr string
		check   func(Config) bool
	}{
		{name: "zero is the default", check: func(c Config) bool {
			d := DefaultConfig()
			return c.Interval == d.Interval && c.SlowTimeout == d.SlowTimeout && c.MaxConns == d.MaxConns && c.MaxConnsPerAddr == d.MaxConnsPerAddr && c.Logger != nil
		}},
		{name: "set values kept", tune: func(c *Config) { c.Interval, c.MaxSubjects = 7, 3 }, check: func(c Config) bool { return c.Interval == 7 && c.MaxSubjects == 3 }},
		{name: "negative caps: none", tune: func(c *Config) { c.MaxConns, c.MaxConnsPerAddr = -1, -1 }, check: func(c Config) bool { return c.MaxConns < 0 && c.MaxConnsPerAddr < 0 }},
		{name: "negative refused", tune: func(c *Config) { c.SlowTimeout, c.ErrorBudget = -1, -1 }, wantErr: "[ErrorBudget SlowTimeout]"},
		{name: "no windows", tune: func(c *Config) { c.Windows = nil }, wantErr: "no windows"},
		{name: "partitions", tune: func(c *Config) { c.Layout.Partitions = -1 }, wantErr: "partitions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := base
			if tc.tune != nil {
				tc.tune(&c)
			}
			got, err := c.withDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(got) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}
