package testenv_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/pulsehq/pulse/internal/testenv"
)

// With appendfsync always, every acknowledged write is on disk: a SIGKILL loses none of them,
// and Start brings the server back on the same address with the AOF loaded.
func TestRedisAOFSurvivesKill(t *testing.T) {
	t.Parallel()
	for _, tcp := range []bool{true, false} {
		t.Run(fmt.Sprintf("tcp=%v", tcp), func(t *testing.T) {
			t.Parallel()
			r := testenv.StartRedisWith(t, testenv.RedisOptions{TCP: tcp, AppendFsync: "always"})
			if tcp && !strings.HasPrefix(r.URL, "redis://127.0.0.1:") {
				t.Fatalf("URL %s, want redis://127.0.0.1:port", r.URL)
			}
			ctx := context.Background()
			rdb := r.Client()
			for i := range 100 {
				if err := rdb.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			addr := r.Addr
			r.Kill()
			network := map[bool]string{true: "tcp", false: "unix"}[tcp]
			if c, err := net.Dial(network, r.Addr); err == nil {
				c.Close()
				t.Fatal("redis-server still accepts connections after Kill")
			}
			r.Start()
			if r.Addr != addr {
				t.Fatalf("restarted on %s, was %s", r.Addr, addr)
			}
			if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 100 {
				t.Fatalf("after restart: %d keys, %v; want 100", n, err)
			}
			for i := range 100 {
				if v, err := rdb.Get(ctx, fmt.Sprintf("k%d", i)).Int(); err != nil || v != i {
					t.Fatalf("k%d = %d, %v; want %d", i, v, err, i)
				}
			}
		})
	}
}
