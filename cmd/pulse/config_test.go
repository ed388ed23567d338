package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/events"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, got configView)
		wantErr string
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c configView) {
				if c.addr != ":8080" || c.partitions != events.DefaultPartitions || c.redis != "redis://127.0.0.1:6379/0" || !slices.Equal(c.roles, []string{"all"}) {
					t.Errorf("defaults: %+v", c)
				}
			},
		},
		{
			name: "env sets, flag wins over env",
			env:  map[string]string{"PULSE_ADDR": ":9000", "PULSE_PARTITIONS": "4", "PULSE_ROLES": "ingest, live", "PULSE_DEDUPE_TTL": "2h"},
			args: []string{"--addr", ":9100"},
			check: func(t *testing.T, c configView) {
				if c.addr != ":9100" || c.partitions != 4 || !slices.Equal(c.roles, []string{"ingest", "live"}) || c.dedupe != 2*time.Hour {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name:    "malformed env is an error naming the variable",
			env:     map[string]string{"PULSE_PARTITIONS": "eight"},
			wantErr: "PULSE_PARTITIONS",
		},
		{
			name:    "unknown flag",
			args:    []string{"--nope"},
			wantErr: "not defined",
		},
		{
			name:    "stray argument",
			args:    []string{"extra"},
			wantErr: "unexpected arguments",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tt.env[k] }
			cfg, _, err := parseConfig(tt.args, getenv, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, configView{addr: cfg.Addr, partitions: cfg.Partitions, redis: cfg.RedisURL, roles: cfg.Roles, dedupe: cfg.Ingest.DedupeTTL})
		})
	}
}

type configView struct {
	addr       string
	partitions int
	redis      string
	roles      []string
	dedupe     time.Duration
}

func TestEffectiveMasksSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PULSE_API_KEYS": "k1,k2", "PULSE_MEILI_KEY": "m", "PULSE_REDIS_URL": "redis://user:pw@host:6379/0"}
	_, fs, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := effective(fs)
	for _, k := range []string{"PULSE_API_KEYS", "PULSE_MEILI_KEY"} {
		if got[k] != "***" {
			t.Errorf("%s = %q, want masked", k, got[k])
		}
	}
	if got["PULSE_REDIS_URL"] != "redis://***@host:6379/0" {
		t.Errorf("redis url = %q", got["PULSE_REDIS_URL"])
	}
	if got["PULSE_BROWSER_KEYS"] != "" {
		t.Errorf("unset key shown as %q", got["PULSE_BROWSER_KEYS"])
	}
}

func TestRunCommands(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(t.Context(), []string{"version"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "pulse ") {
		t.Errorf("version printed %q", out.String())
	}
	if err := run(t.Context(), []string{"nope"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Error("unknown command: no error")
	}
}

func TestParseEdgeConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PULSE_TRUSTED_PROXIES":         "10.213.7.2, 10.0.0.0/8",
		"PULSE_BODY_TIMEOUT":            "5s",
		"PULSE_WRITE_TIMEOUT":           "7s",
		"PULSE_IDLE_TIMEOUT":            "1m",
		"PULSE_LIVE_MAX_CONNS":          "500",
		"PULSE_LIVE_MAX_CONNS_PER_ADDR": "5",
	}
	c, _, err := parseConfig([]string{"--live-max-conns-per-addr", "6"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.TrustedProxies, []string{"10.213.7.2", "10.0.0.0/8"}) || c.BodyTimeout != 5*time.Second ||
		c.WriteTimeout != 7*time.Second || c.IdleTimeout != time.Minute || c.Live.MaxConns != 500 || c.Live.MaxConnsPerAddr != 6 {
		t.Errorf("got %+v", c)
	}
	d, _, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.TrustedProxies != nil || d.BodyTimeout != 30*time.Second || d.Live.MaxConns != 10_000 || d.Live.MaxConnsPerAddr != 100 {
		t.Errorf("defaults: %+v", d)
	}
}
