package counter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/client"
)

// maxHistoryHours bounds one history read (hour keys per partition).
const maxHistoryHours = 24 * 400

// Range is a history count over whole minutes: events with time in [From, To).
type Range struct {
	From, To int64 // unix ms, minute-aligned
	Count    int64
	Series   []client.Point // one point per step, when a step was asked for
}

// History counts the events of typ (of one subject, or all when subject is "") with time in
// [from, to), widened to whole minutes: from rounded down, to rounded up. step (a whole number
// of minutes, or 0 for no series) cuts the range into points; the last one may be shorter.
// It reads the per-minute rollups, which hold every applied event, late ones included, for
// the history retention.
func (r *Reader) History(ctx context.Context, typ, subject string, from, to int64, step time.Duration) (Range, error) {
	fromMin := floorDiv(from, 60_000)
	toMin := -floorDiv(-to, 60_000)
	if toMin <= fromMin {
		toMin = fromMin + 1
	}
	firstHour, lastHour := floorDiv(fromMin, 60), floorDiv(toMin-1, 60)
	if lastHour-firstHour+1 > maxHistoryHours {
		return Range{}, fmt.Errorf("history: range of %d hours is longer than %d", lastHour-firstHour+1, maxHistoryHours)
	}
	pipe := r.rdb.Pipeline()
	type read struct {
		hour int64
		cmd  *redis.MapStringStringCmd
	}
	var reads []read
	for h := firstHour; h <= lastHour; h++ {
		if subject != "" {
			k := keysOf(r.layout, r.layout.Partition(typ, subject))
			reads = append(reads, read{h, pipe.HGetAll(ctx, k.subjectHistory(typ, h, subject))})
			continue
		}
		for p := range r.layout.Partitions {
			reads = append(reads, read{h, pipe.HGetAll(ctx, keysOf(r.layout, p).typeHistory(typ, h))})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return Range{}, fmt.Errorf("history: %w", err)
	}
	perMinute := map[int64]int64{}
	for _, rd := range reads {
		for field, v := range rd.cmd.Val() {
			m, err1 := strconv.ParseInt(field, 10, 64)
			n, err2 := strconv.ParseInt(v, 10, 64)
			if err1 != nil || err2 != nil {
				return Range{}, fmt.Errorf("history: bad field %q=%q", field, v)
			}
			if minute := rd.hour*60 + m; minute >= fromMin && minute < toMin {
				perMinute[minute] += n
			}
		}
	}
	out := Range{From: fromMin * 60_000, To: toMin * 60_000}
	for _, n := range perMinute {
		out.Count += n
	}
	if stepMin := int64(step / time.Minute); stepMin > 0 {
		for t := fromMin; t < toMin; t += stepMin {
			pt := client.Point{T: t * 60_000}
			for m := t; m < min(t+stepMin, toMin); m++ {
				pt.Count += perMinute[m]
			}
			out.Series = append(out.Series, pt)
		}
	}
	return out, nil
}
