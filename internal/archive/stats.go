package archive

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// StatsKey holds the archive's size as an archiver's last listing saw it.
const StatsKey = "pulse:archive"

// Stats is the archive's size as the last listing saw it.
type Stats struct {
	Files  int64 `json:"files" redis:"files"`
	Bytes  int64 `json:"bytes" redis:"bytes"`
	Newest int64 `json:"newest_hour" redis:"newest_hour"` // start of the newest event hour, unix ms; 0: empty
	At     int64 `json:"at" redis:"at"`                   // when it was listed, unix ms
}

// ReadStats reads what an archiver last published; ok is false if none has yet.
func ReadStats(ctx context.Context, rdb redis.Cmdable) (s Stats, ok bool, err error) {
	cmd := rdb.HGetAll(ctx, StatsKey)
	if err := cmd.Err(); err != nil {
		return s, false, fmt.Errorf("archive stats: %w", err)
	}
	if len(cmd.Val()) == 0 {
		return s, false, nil
	}
	return s, true, cmd.Scan(&s)
}
