package luascript_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/luascript"
	"github.com/pulsehq/pulse/internal/testenv"
)

// Calls of a forgotten script are sent again once it is loaded; calls that ran are not.
func TestResend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.StartRedis(t).Client()
	incr := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	if err := incr.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	run := func(flushBetween bool) []*redis.Cmd {
		// a runs first; b and c are queued after a SCRIPT FLUSH in the same pipeline, so Redis
		// runs a and answers NOSCRIPT to b and c.
		pipe := rdb.Pipeline()
		cmds := []*redis.Cmd{incr.EvalSha(ctx, pipe, []string{"a"})}
		if flushBetween {
			pipe.ScriptFlush(ctx)
		}
		cmds = append(cmds, incr.EvalSha(ctx, pipe, []string{"b"}), incr.EvalSha(ctx, pipe, []string{"c"}))
		_, _ = pipe.Exec(ctx) // b and c fail with NOSCRIPT after a flush
		resent, err := luascript.Resend(ctx, rdb, incr, cmds)
		if err != nil || resent != flushBetween {
			t.Fatalf("Resend = %v, %v; want %v, nil", resent, err, flushBetween)
		}
		return cmds
	}
	run(true)
	run(false)
	for _, k := range []string{"a", "b", "c"} {
		if n, err := rdb.Get(ctx, k).Int(); err != nil || n != 2 {
			t.Errorf("%s = %d, %v; want 2 (each call applied once)", k, n, err)
		}
	}
}
