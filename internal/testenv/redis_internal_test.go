package testenv

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A port taken between freePort and redis-server's bind makes startBinary pick another one.
func TestStartBinaryRetriesTakenPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	attempts := 0
	r := startBinary(t, RedisOptions{TCP: true, args: func(testing.TB) []string {
		attempts++
		if attempts == 1 {
			return []string{"--port", taken} // overrides the free port: as if someone took it
		}
		return nil
	}})
	if attempts != 2 {
		t.Fatalf("%d start attempts, want 2", attempts)
	}
	if err := r.Client().Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// A SIGKILL in the middle of a script's write leaves a torn MULTI/EXEC block at the AOF's end.
// Start must cut the whole block (the script was never acknowledged) and nothing written after
// the restart may be lost at the next one, which Redis 7.0's own repair
// (aof-load-truncated yes) does not ensure.
func TestStartRepairsTornAOF(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := startBinary(t, RedisOptions{AppendFsync: "always"})
	rdb := r.Client()
	if err := rdb.Set(ctx, "a", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	script := "redis.call('SET', 'b', 2); return redis.call('XADD', 's', '*', 'f', 'v')"
	if err := rdb.Eval(ctx, script, nil).Err(); err != nil {
		t.Fatal(err)
	}
	r.Kill()
	incr, err := filepath.Glob(filepath.Join(r.dir, "appendonlydir", "*.incr.aof"))
	if err != nil || len(incr) != 1 {
		t.Fatalf("incremental AOF files %v, %v; want one", incr, err)
	}
	fi, err := os.Stat(incr[0])
	if err != nil {
		t.Fatal(err)
	}
	// The EXEC at the end is 14 bytes; cutting 5 leaves the block open, as a crash would.
	if err := os.Truncate(incr[0], fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	r.Start()
	if err := rdb.Set(ctx, "c", 3, 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Kill()
	r.Start()
	want := map[string]string{"a": "1", "b": "", "c": "3"}
	for k, v := range want {
		got, err := rdb.Get(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			got, err = "", nil
		}
		if err != nil || got != v {
			t.Errorf("%s = %q, %v; want %q", k, got, err, v)
		}
	}
	if n, err := rdb.Exists(ctx, "s").Result(); err != nil || n != 0 {
		t.Errorf("stream of the torn script: exists %d, %v; want 0", n, err)
	}
}
