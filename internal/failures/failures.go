// Package failures is the failure stream (pulse:failed): every stage that gives up on a record
// appends it here with its reason, so nothing is dropped silently and it can be listed and
// replayed.
package failures

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

// DefaultMaxLen caps the failure stream so a misbehaving producer cannot fill Redis.
const DefaultMaxLen = 100_000

// Append adds f to the failure stream, trimming it (approximately) to maxLen entries.
func Append(ctx context.Context, rdb redis.Cmdable, f events.Failure, maxLen int64) error {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	args := Args(f, maxLen)
	if err := rdb.XAdd(ctx, args).Err(); err != nil {
		return fmt.Errorf("append failure: %w", err)
	}
	return nil
}

// Args is the XADD of f, for callers that pipeline it with other commands.
func Args(f events.Failure, maxLen int64) *redis.XAddArgs {
	if f.At == 0 {
		f.At = time.Now().UnixMilli()
	}
	rec, _ := json.Marshal(f.Record) // a map[string]string always marshals
	return &redis.XAddArgs{
		Stream: events.FailedStream,
		MaxLen: maxLen,
		Approx: true,
		Values: []string{
			events.FailStage, f.Stage,
			events.FailReason, f.Reason,
			events.FailAt, strconv.FormatInt(f.At, 10),
			events.FailStream, f.Stream,
			events.FailEntryID, f.EntryID,
			events.FailRecord, string(rec),
		},
	}
}

// Decode reads a failure stream entry.
func Decode(m map[string]any) events.Failure {
	get := func(k string) string { s, _ := m[k].(string); return s }
	f := events.Failure{
		Stage:   get(events.FailStage),
		Reason:  get(events.FailReason),
		Stream:  get(events.FailStream),
		EntryID: get(events.FailEntryID),
	}
	f.At, _ = strconv.ParseInt(get(events.FailAt), 10, 64)
	_ = json.Unmarshal([]byte(get(events.FailRecord)), &f.Record)
	return f
}

// RecordOf turns stream entry values into a failure record.
func RecordOf(m map[string]any) map[string]string {
	rec := make(map[string]string, len(m))
	for k, v := range m {
		rec[k] = fmt.Sprint(v)
	}
	return rec
}
