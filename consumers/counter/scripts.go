package counter

import (
	"context"
	_ "embed"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/luascript"
)

// The scripts, beside the Go that calls them. Each names every key it touches in KEYS, all
// under one partition's hash tag.
var (
	//go:embed counter.lua
	counterSrc string
	//go:embed due.lua
	dueSrc string
	//go:embed expire.lua
	expireSrc string
	//go:embed windows.lua
	windowsSrc string
	//go:embed top.lua
	topSrc string

	applyScript   = redis.NewScript(counterSrc)
	dueScript     = redis.NewScript(dueSrc)
	expireScript  = redis.NewScript(expireSrc)
	windowsScript = redis.NewScript(windowsSrc)
	topScript     = redis.NewScript(topSrc)
)

// scriptCall is one script run in a pipeline.
type scriptCall struct {
	keys []string
	args []any
}

// runPipelined runs s once per call in one round trip; calls of a script Redis forgot are
// sent again once it is loaded.
func runPipelined(ctx context.Context, rdb redis.UniversalClient, s *redis.Script, calls []scriptCall) ([]*redis.Cmd, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		cmds[i] = s.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, err := pipe.Exec(ctx)
	if err == nil {
		return cmds, nil
	}
	if resent, rerr := luascript.Resend(ctx, rdb, s, cmds); resent {
		err = rerr
	}
	return cmds, err
}
