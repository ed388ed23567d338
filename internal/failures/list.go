package failures

import (
	"context"
	"fmt"
	"regexp"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

// Item is a failure record with its id in the failure stream (the id replay takes).
type Item struct {
	ID string `json:"id"`
	events.Failure
}

var idRe = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// ValidID reports whether s is a stream entry id ("1790000000000-0"): the form of failure ids,
// cursors and the entry ids failures refer to.
func ValidID(s string) bool { return idRe.MatchString(s) }

// List returns up to limit records of a store (events.FailedStream or events.RejectedStream),
// newest first, older than cursor (an id from a previous page; "" starts at the newest). next
// is the cursor of the following page, "" at the end.
func List(ctx context.Context, rdb redis.Cmdable, store string, limit int, cursor string) (items []Item, next string, err error) {
	end := "+"
	if cursor != "" {
		end = "(" + cursor
	}
	msgs, err := rdb.XRevRangeN(ctx, store, end, "-", int64(limit)+1).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list failures: %w", err)
	}
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].ID
	}
	items = make([]Item, len(msgs))
	for i, m := range msgs {
		items[i] = Item{ID: m.ID, Failure: Decode(m.Values)}
	}
	return items, next, nil
}
