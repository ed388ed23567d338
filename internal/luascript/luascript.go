// Package luascript keeps pipelined Redis scripts running across a Redis that forgot them.
// Script.Run falls back from EVALSHA to EVAL by itself, but not inside a pipeline: after a
// restart, a failover or SCRIPT FLUSH, a pipelined EVALSHA fails with NOSCRIPT.
package luascript

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Client is what Resend needs of a Redis client.
type Client interface {
	redis.Scripter
	Pipeline() redis.Pipeliner
}

// Resend loads s and sends again, in one pipeline, each of cmds (EVALSHA calls of s) that
// Redis answered NOSCRIPT, putting the new command in its place. NOSCRIPT means the call did
// not run, so sending it again can never apply it twice; calls that ran are never sent again.
// resent reports whether anything was sent; err is then the load's error or the first error
// among cmds, as Exec would have returned it.
func Resend(ctx context.Context, rdb Client, s *redis.Script, cmds []*redis.Cmd) (resent bool, err error) {
	var pipe redis.Pipeliner
	for i, c := range cmds {
		if c == nil || !redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			continue
		}
		if pipe == nil {
			if err := s.Load(ctx, rdb).Err(); err != nil {
				return true, fmt.Errorf("load script: %w", err)
			}
			pipe = rdb.Pipeline()
		}
		cmds[i] = pipe.Do(ctx, c.Args()...)
	}
	if pipe == nil {
		return false, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return true, err
	}
	for _, c := range cmds {
		if c != nil && c.Err() != nil {
			return true, c.Err()
		}
	}
	return true, nil
}
