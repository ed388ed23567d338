package testenv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/testenv"
)

// Each fault, through the proxy, does to a go-redis client what its doc says, and Redis (read
// directly) shows which commands took effect.
func TestProxyFaults(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedisWith(t, testenv.RedisOptions{TCP: true})
	direct := r.Client()
	p := testenv.StartProxy(t, "redis", r.Addr)
	ctx := context.Background()
	// One pooled connection, opened clean before each fault (warm), so that the fault hits the
	// next command rather than the handshake of a new connection. go-redis pipelines draw from
	// a pool of their own (PipelinePoolSize): warm that one with a pipeline.
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1, PoolSize: 1,
		PipelinePoolSize: 1, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	warm := func() {
		t.Helper()
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatalf("PING through the proxy: %v", err)
		}
		if _, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error { return pipe.Ping(ctx).Err() }); err != nil {
			t.Fatalf("pipelined PING through the proxy: %v", err)
		}
	}
	get := func(key string) string {
		t.Helper()
		v, err := direct.Get(ctx, key).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		return v
	}

	if err := rdb.Set(ctx, "plain", "v", 0).Err(); err != nil || get("plain") != "v" {
		t.Fatalf("SET through a clean proxy: %v, stored %q", err, get("plain"))
	}

	t.Run("LoseReplies", func(t *testing.T) {
		warm()
		remove := p.Inject(testenv.LoseReplies(1))
		err := rdb.Incr(ctx, "lost").Err()
		remove()
		if err == nil || get("lost") != "1" {
			t.Fatalf("INCR: %v, stored %q; want an error and 1", err, get("lost"))
		}
	})

	t.Run("DelayReplies", func(t *testing.T) {
		warm()
		remove := p.Inject(testenv.DelayReplies(time.Second, 1))
		err := rdb.Incr(ctx, "late").Err()
		remove()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || get("late") != "1" {
			t.Fatalf("INCR: %v, stored %q; want a timeout and 1", err, get("late"))
		}
	})

	t.Run("CutRequests", func(t *testing.T) {
		warm()
		one := len("*3\r\n$5\r\nRPUSH\r\n$4\r\ncuts\r\n$3\r\n000\r\n") // RESP of one RPUSH below
		remove := p.Inject(testenv.CutRequests(10*one+one/2, 1))
		_, err := rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i := range 100 {
				pipe.RPush(ctx, "cuts", fmt.Sprintf("%03d", i))
			}
			return nil
		})
		remove()
		got, _ := direct.LRange(ctx, "cuts", 0, -1).Result()
		var want []string
		for i := range 10 {
			want = append(want, fmt.Sprintf("%03d", i))
		}
		if err == nil || !slices.Equal(got, want) {
			t.Fatalf("pipeline: %v, stored %v; want an error and the first 10", err, got)
		}
	})

	t.Run("ResetPeer", func(t *testing.T) {
		warm()
		remove := p.Inject(testenv.ResetPeer(1))
		err := rdb.Incr(ctx, "reset").Err()
		remove()
		if err == nil || get("reset") != "" {
			t.Fatalf("INCR: %v, stored %q; want an error and nothing", err, get("reset"))
		}
	})

	t.Run("ResetConnections", func(t *testing.T) {
		conn, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		if _, err := conn.Write([]byte("PING\r\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := br.ReadString('\n'); err != nil || line != "+PONG\r\n" {
			t.Fatalf("PING: %q, %v", line, err)
		}
		p.ResetConnections()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, err := br.ReadByte(); err == nil {
			t.Fatalf("connection still open after ResetConnections: read %q", b)
		}
		warm() // the proxy listens again on the same address
	})

	want := map[string]int{"lose_replies": 1, "delay_replies": 1, "cut_requests": 1, "reset_peer": 1}
	if got := p.Injected(); !maps.Equal(got, want) {
		t.Fatalf("Injected() = %v, want %v", got, want)
	}
}
