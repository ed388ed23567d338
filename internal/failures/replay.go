package failures

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/events"
)

// FieldReplayOf is the stream field of a replayed entry: the id of the entry that failed. The
// counter counts a replayed entry only if the original was dead-lettered by the counter and
// not yet replayed (it consumes a marker the counter left when it gave up on the original),
// so replaying a record twice, or replaying another stage's record of a counted entry, cannot
// double count. The indexer re-indexes by event id: idempotent.
const FieldReplayOf = "replay_of"

// replayPage is how many records one round trip replays.
const replayPage = 500

// Replay re-appends the failure records ids to their partition stream, with their original
// event id and FieldReplayOf, and removes them from the failure stream. Records that are not
// events (rejected at ingest, malformed) stay, reported in Skipped.
func Replay(ctx context.Context, rdb redis.UniversalClient, layout events.Layout, ids []string) (client.ReplayResult, error) {
	res := client.ReplayResult{Replayed: []client.Replayed{}, Skipped: []client.Skipped{}}
	for start := 0; start < len(ids); start += replayPage {
		page := ids[start:min(start+replayPage, len(ids))]
		pipe := rdb.Pipeline()
		cmds := make([]*redis.XMessageSliceCmd, len(page))
		for i, id := range page {
			cmds[i] = pipe.XRange(ctx, events.FailedStream, id, id)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return res, fmt.Errorf("read failures: %w", err)
		}
		var found []redis.XMessage
		for i, c := range cmds {
			if len(c.Val()) == 0 {
				res.Skipped = append(res.Skipped, client.Skipped{ID: page[i], Reason: "not_found"})
				continue
			}
			found = append(found, c.Val()[0])
		}
		if err := replay(ctx, rdb, layout, found, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// ReplayAll replays every record the failure stream held when it was called, oldest first.
// Records dead-lettered meanwhile (a replayed entry failing again, say) wait for the next
// call: following them would loop for as long as they keep failing.
func ReplayAll(ctx context.Context, rdb redis.UniversalClient, layout events.Layout) (client.ReplayResult, error) {
	res := client.ReplayResult{Replayed: []client.Replayed{}, Skipped: []client.Skipped{}}
	last, err := rdb.XRevRangeN(ctx, events.FailedStream, "+", "-", 1).Result()
	if err != nil || len(last) == 0 {
		if err != nil {
			err = fmt.Errorf("read failures: %w", err)
		}
		return res, err
	}
	for start := "-"; ; {
		msgs, err := rdb.XRangeN(ctx, events.FailedStream, start, last[0].ID, replayPage).Result()
		if err != nil {
			return res, fmt.Errorf("read failures: %w", err)
		}
		if len(msgs) == 0 {
			return res, nil
		}
		if err := replay(ctx, rdb, layout, msgs, &res); err != nil {
			return res, err
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// replay appends then deletes: a crash in between leaves the record, and replaying it again
// appends a second entry that the FieldReplayOf guard keeps from counting twice.
func replay(ctx context.Context, rdb redis.UniversalClient, layout events.Layout, msgs []redis.XMessage, res *client.ReplayResult) error {
	type put struct {
		id     string
		stream string
		add    *redis.StringCmd
	}
	var puts []put
	pipe := rdb.Pipeline()
	for _, m := range msgs {
		stream, values, why := replayable(Decode(m.Values), layout)
		if why != "" {
			res.Skipped = append(res.Skipped, client.Skipped{ID: m.ID, Reason: why})
			continue
		}
		puts = append(puts, put{m.ID, stream, pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: values})})
	}
	if len(puts) == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("re-append failures: %w", err)
	}
	del := make([]string, len(puts))
	for i, p := range puts {
		del[i] = p.id
		res.Replayed = append(res.Replayed, client.Replayed{ID: p.id, Stream: p.stream, EntryID: p.add.Val()})
	}
	if err := rdb.XDel(ctx, events.FailedStream, del...).Err(); err != nil {
		return fmt.Errorf("remove replayed failures: %w", err)
	}
	return nil
}

// replayable returns the stream and fields to re-append f with, or why it cannot be.
func replayable(f events.Failure, layout events.Layout) (stream string, values []string, why string) {
	if !ValidID(f.EntryID) {
		return "", nil, "not_replayable: no stream entry (rejected before it was appended)"
	}
	rec := make(map[string]any, len(f.Record))
	for k, v := range f.Record {
		rec[k] = v
	}
	ev, err := events.FromValues(rec)
	if err != nil {
		return "", nil, "not_replayable: " + err.Error()
	}
	stream = layout.Stream(layout.Partition(ev.Type, ev.Subject))
	if f.Stream != "" && f.Stream != stream {
		return "", nil, fmt.Sprintf("not_replayable: record came from %s, its partition is %s", f.Stream, stream)
	}
	return stream, append(ev.Values(), FieldReplayOf, f.EntryID), ""
}
