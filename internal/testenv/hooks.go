package testenv

import (
	"context"
	"io"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// LostReply is a go-redis hook that makes Redis run the commands it matches while their reply
// is lost: with Resend, the client library sends the command again (Redis applies both, the
// caller sees the second reply); without, the caller gets io.ErrUnexpectedEOF. It reproduces
// exactly the fault that a proxy dropping replies causes at random. Add it with AddHook.
type LostReply struct {
	Match  func(args []any) bool
	Resend bool
	Times  atomic.Int64 // faults left; set before use
	Fired  atomic.Int64 // faults done
}

var _ redis.Hook = (*LostReply)(nil)

func (h *LostReply) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *LostReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil && h.take(cmd) {
			if h.Resend {
				return next(ctx, cmd)
			}
			cmd.SetErr(io.ErrUnexpectedEOF)
			return io.ErrUnexpectedEOF
		}
		return err
	}
}

func (h *LostReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil || !h.takeAny(cmds) {
			return err
		}
		if h.Resend {
			return next(ctx, cmds)
		}
		for _, c := range cmds {
			c.SetErr(io.ErrUnexpectedEOF)
		}
		return io.ErrUnexpectedEOF
	}
}

func (h *LostReply) takeAny(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if h.take(c) {
			return true
		}
	}
	return false
}

func (h *LostReply) take(cmd redis.Cmder) bool {
	if !h.Match(cmd.Args()) || h.Times.Add(-1) < 0 {
		return false
	}
	h.Fired.Add(1)
	return true
}

// ArgsContain matches commands with a string argument containing sub.
func ArgsContain(sub string) func(args []any) bool {
	return func(args []any) bool {
		for _, a := range args {
			if s, ok := a.(string); ok && strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
}
