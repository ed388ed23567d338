package app

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidateEdge(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		tune    func(*Config)
		wantErr string
	}{
		{name: "defaults"},
		{name: "proxies as IPs and CIDRs", tune: func(c *Config) { c.TrustedProxies = []string{"10.213.7.2", "172.16.0.0/12", "::1"} }},
		{name: "a proxy by name", tune: func(c *Config) { c.TrustedProxies = []string{"gateway"} }, wantErr: `trusted proxy "gateway"`},
		{name: "negative timeout", tune: func(c *Config) { c.BodyTimeout = -time.Second }, wantErr: "body timeout"},
		{name: "bad origin pattern", tune: func(c *Config) { c.AllowedOrigins = []string{"[x"} }, wantErr: "allowed origin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Defaults()
			if tt.tune != nil {
				tt.tune(&c)
			}
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}

	// Zero means the default, as for every setting.
	c := Defaults()
	c.BodyTimeout, c.WriteTimeout, c.IdleTimeout = 0, 0, 0
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := Defaults(); c.BodyTimeout != d.BodyTimeout || c.WriteTimeout != d.WriteTimeout || c.IdleTimeout != d.IdleTimeout {
		t.Errorf("zero edge settings became %+v, want the defaults", c)
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	var th throttle
	if !th.allow(time.Hour) || th.allow(time.Hour) {
		t.Error("want the first call allowed and the next one within the period refused")
	}
	if !th.allow(0) {
		t.Error("a zero period allows every call")
	}
}
