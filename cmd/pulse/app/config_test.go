package app

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tune      func(*Config)
		wantRoles []string
		wantErr   string
	}{
		{name: "all expands", wantRoles: []string{"archiver", "counter", "indexer", "ingest", "live"}},
		{name: "no archiver without an archive", tune: func(c *Config) { c.ArchiveURL = "off" }, wantRoles: []string{"counter", "indexer", "ingest", "live"}},
		{name: "subset sorted, repeats removed", tune: func(c *Config) { c.Roles = []string{"live", "ingest", "live"} }, wantRoles: []string{"ingest", "live"}},
		{name: "unknown role", tune: func(c *Config) { c.Roles = []string{"ingest", "web"} }, wantErr: `unknown role "web"`},
		{name: "all with a broker takes mqtt", tune: func(c *Config) { c.MQTT.URL = "mqtt://127.0.0.1" }, wantRoles: []string{"archiver", "counter", "indexer", "ingest", "live", "mqtt"}},
		{name: "mqtt without a broker", tune: func(c *Config) { c.Roles = []string{"mqtt"} }, wantErr: "the mqtt role needs an MQTT URL"},
		{name: "no role", tune: func(c *Config) { c.Roles = nil }, wantErr: "no role"},
		{name: "partitions", tune: func(c *Config) { c.Partitions = 0 }, wantErr: "partitions"},
		{name: "windows", tune: func(c *Config) { c.Windows = "5m,1m" }, wantErr: "shortest first"},
		{name: "dedupe shorter than longest window", tune: func(c *Config) { c.Ingest.DedupeTTL = 5 * time.Minute }, wantErr: "dedupe TTL"},
		{name: "redis timeout", tune: func(c *Config) { c.RedisTimeout = time.Microsecond }, wantErr: "redis timeout"},
		{name: "wait outlasts the redis timeout", tune: func(c *Config) { c.Ingest.WaitReplicas, c.RedisTimeout = 1, time.Second }, wantErr: "wait timeout 1s must be shorter"},
		{name: "wait within the redis timeout", tune: func(c *Config) { c.Ingest.WaitReplicas = 1 }, wantRoles: []string{"archiver", "counter", "indexer", "ingest", "live"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Defaults()
			if tt.tune != nil {
				tt.tune(&c)
			}
			err := c.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Roles, tt.wantRoles) {
				t.Errorf("roles = %v, want %v", c.Roles, tt.wantRoles)
			}
		})
	}
}
