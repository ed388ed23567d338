package counter

import (
	"context"
	_ "embed"

	"github.com/redis/go-redis/v9"
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

// runPipelined runs s once per call in one round trip. Script.Run falls back from EVALSHA to
// EVAL by itself, but not inside a pipeline: on NOSCRIPT (a restarted or failed-over Redis)
// the script is loaded and the whole pipeline run again; the scripts used here only read.
func runPipelined(ctx context.Context, rdb redis.UniversalClient, s *redis.Script, calls []scriptCall) ([]*redis.Cmd, error) {
	for attempt := 0; ; attempt++ {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(calls))
		for i, c := range calls {
			cmds[i] = s.EvalSha(ctx, pipe, c.keys, c.args...)
		}
		_, err := pipe.Exec(ctx)
		if err == nil || attempt > 0 || !isNoScript(cmds) {
			return cmds, err
		}
		if err := s.Load(ctx, rdb).Err(); err != nil {
			return nil, err
		}
	}
}

func isNoScript(cmds []*redis.Cmd) bool {
	for _, c := range cmds {
		if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			return true
		}
	}
	return false
}
