package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// A process whose partitions or windows differ from the deployment's exits non-zero, saying
// why, before it serves or writes anything: on the old main an ingest process with 4
// partitions answered 202 into the wrong partition, and a live process with other windows
// settled partitions with them.
func TestMisconfiguredProcessRefusesToStart(t *testing.T) {
	t.Parallel()
	rds := testenv.StartRedis(t)
	p := Start(t, rds, func(c *app.Config) { c.Roles = []string{"ingest", "counter"} })
	post(t, p, ev("video_liked", "v1"))
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	rdb := rds.Client()
	ctx := context.Background()
	before := keysAndLengths(t, rdb)

	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"ingest with other partitions", []string{"PULSE_ROLES=ingest", "PULSE_PARTITIONS=4"}, "PULSE_PARTITIONS"},
		{"live with other windows", []string{"PULSE_ROLES=live", "PULSE_WINDOWS=1m,5m"}, "PULSE_WINDOWS"},
		{"counter with other windows", []string{"PULSE_ROLES=counter", "PULSE_WINDOWS=1m,5m,15m"}, "PULSE_WINDOWS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := testenv.FreePort(t)
			cmd := exec.Command(testenv.PulseBinary(t), "serve")
			cmd.Env = append(os.Environ(), append(tc.env, "PULSE_REDIS_URL="+rds.URL,
				fmt.Sprintf("PULSE_ADDR=127.0.0.1:%d", port), "PULSE_DATA_DIR="+t.TempDir())...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(out.String(), tc.want) {
					t.Fatalf("exit %v, output:\n%s\nwant a non-zero exit naming %s", err, out.String(), tc.want)
				}
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				<-done // the output is the process's until it has exited
				t.Fatalf("still running after 60s:\n%s", out.String())
			}
			if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port)); err == nil {
				t.Error("the refused process served HTTP")
			}
		})
	}
	if after := keysAndLengths(t, rdb); !slices.Equal(after, before) {
		t.Errorf("the refused processes wrote to Redis:\nbefore %v\nafter  %v", before, after)
	}
	if got := rdb.HGet(ctx, events.MetaKey, "partitions").Val(); got != fmt.Sprint(events.DefaultPartitions) {
		t.Errorf("recorded partitions %q, want %d", got, events.DefaultPartitions)
	}
}

// A deployment recorded before tag schemes existed keeps its numbered keys ({p3}); a new one
// records balanced tags. Each learns its scheme from pulse:meta, not from its configuration.
func TestDeploymentKeepsItsTags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := testenv.StartRedis(t)
	// What the previous version recorded: partitions and windows, no tags.
	if err := old.Client().HSet(ctx, events.MetaKey, "partitions", "8", "windows", "60,300,600").Err(); err != nil {
		t.Fatal(err)
	}
	fresh := testenv.StartRedis(t)
	for _, tc := range []struct {
		name   string
		redis  *testenv.Redis
		tune   func(*app.Config)
		want   events.Tags
		stream string
	}{
		{"recorded before tags", old, func(c *app.Config) { c.Partitions = 8 }, events.TagsNumbered, "pulse:{p%d}:events"},
		{"new", fresh, nil, events.TagsBalanced, "pulse:{p%d.*}:events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Start(t, tc.redis, tc.tune)
			if p.Layout.Tags != tc.want {
				t.Fatalf("layout %+v, want %s tags", p.Layout, tc.want)
			}
			post(t, p, ev("video_liked", "v1"))
			rdb := tc.redis.Client()
			part := p.Layout.Partition("video_liked", "v1")
			if n := len(testenv.StoredEvents(t, rdb, p.Layout)); n != 1 {
				t.Errorf("%d events stored, want 1", n)
			}
			keys, _ := rdb.Keys(ctx, fmt.Sprintf(tc.stream, part)).Result()
			if len(keys) != 1 {
				t.Errorf("streams named %s: %v", fmt.Sprintf(tc.stream, part), keys)
			}
			if got := rdb.HGet(ctx, events.MetaKey, "tags").Val(); got != string(tc.want) {
				t.Errorf("recorded tags %q, want %s", got, tc.want)
			}
		})
	}
}

// keysAndLengths lists every key with its type and size: what a write would change.
func keysAndLengths(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		typ := rdb.Type(ctx, k).Val()
		var n int64
		switch typ {
		case "stream":
			n = rdb.XLen(ctx, k).Val()
		case "hash":
			n = rdb.HLen(ctx, k).Val()
		case "zset":
			n = rdb.ZCard(ctx, k).Val()
		case "set":
			n = rdb.SCard(ctx, k).Val()
		case "string":
			n = rdb.StrLen(ctx, k).Val()
		}
		out = append(out, fmt.Sprintf("%s %s %d", k, typ, n))
	}
	slices.Sort(out)
	return out
}

// PULSE_MAX_BACKLOG=-1 is documented as "no limit": every role starts with it (the counter
// used to refuse, its trimmer cap computed from it).
func TestUnlimitedBacklog(t *testing.T) {
	t.Parallel()
	p := Start(t, nil, func(c *app.Config) { c.Ingest.MaxBacklog = -1 })
	post(t, p, ev("video_liked", "v1")) // 202, or it fails the test
}

// Redis unavailable is a 503 with Retry-After on every route that needs it, reads included.
func TestReadsAnswer503WhenRedisDown(t *testing.T) {
	t.Parallel()
	p := counterPulse(t, nil)
	p.Redis.Stop()
	t.Cleanup(p.Redis.Start) // the App's shutdown drains through Redis
	for _, path := range []string{
		"/v1/windows?type=video_liked&subject=v1",
		"/v1/top?type=video_liked&window=1m",
		fmt.Sprintf("/v1/counts?type=video_liked&subject=v1&from=%d&to=%d", time.Now().Add(-time.Hour).UnixMilli(), time.Now().UnixMilli()),
		"/v1/failures",
	} {
		res, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d, Retry-After %q; want 503 with Retry-After", path, res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
}
