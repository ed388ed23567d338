// Package failures keeps what Pulse could not take: the dead letters of accepted events
// (pulse:failed), listed and replayed, and the items ingest rejected (pulse:rejected), listed
// for the producer's operator. The two are apart so that junk input can never evict the only
// record of an accepted event.
package failures

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

// DefaultMaxLen is the default capacity of each store.
const DefaultMaxLen = 100_000

// ErrFull is the answer of a dead-letter store at capacity: nothing was appended, and the
// caller keeps the entry (pending) rather than drop it.
var ErrFull = errors.New("the dead-letter store is full")

//go:embed deadletter.lua
var deadLetterSrc string

var deadLetterScript = redis.NewScript(deadLetterSrc)

// DeadLetter appends the records fs to the dead-letter store, each only while the store holds
// fewer than maxLen records. ids[i] is the record id of fs[i], or "" when the store was full
// (then err wraps ErrFull). A lost reply retried by the client can only duplicate records,
// which replay counts once.
func DeadLetter(ctx context.Context, rdb redis.Scripter, fs []events.Failure, maxLen int64) (ids []string, err error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	args := make([]any, 0, 1+len(fs)*len(fieldNames))
	args = append(args, maxLen)
	for _, f := range fs {
		for _, v := range values(f) {
			args = append(args, v)
		}
	}
	res, err := deadLetterScript.Run(ctx, rdb, []string{events.FailedStream}, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("append dead letters: %w", err)
	}
	ids = make([]string, len(fs))
	full := 0
	for i := range fs {
		if i < len(res) {
			ids[i], _ = res[i].(string)
		}
		if ids[i] == "" {
			full++
		}
	}
	if full > 0 {
		return ids, fmt.Errorf("%w: %d of %d records refused at %d", ErrFull, full, len(fs), maxLen)
	}
	return ids, nil
}

// RejectArgs is the XADD of a rejected input item, for callers that pipeline it. The store is
// trimmed to about maxLen records, oldest first.
func RejectArgs(f events.Failure, maxLen int64) *redis.XAddArgs {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	return &redis.XAddArgs{Stream: events.RejectedStream, MaxLen: maxLen, Approx: true, Values: values(f)}
}

// fieldNames are the stream fields of a record, in the order values lays them out.
var fieldNames = [...]string{events.FailStage, events.FailReason, events.FailAt, events.FailStream, events.FailEntryID, events.FailRecord}

func values(f events.Failure) []string {
	if f.At == 0 {
		f.At = time.Now().UnixMilli()
	}
	rec, _ := json.Marshal(f.Record) // a map[string]string always marshals
	v := []string{f.Stage, f.Reason, strconv.FormatInt(f.At, 10), f.Stream, f.EntryID, string(rec)}
	out := make([]string, 0, 2*len(v))
	for i, name := range fieldNames {
		out = append(out, name, v[i])
	}
	return out
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
