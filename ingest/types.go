package ingest

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

//go:embed types.lua
var typesSrc string

var typesScript = redis.NewScript(typesSrc)

const (
	// typeIdleTTL: a type not sent for this long no longer takes a place under the cap.
	typeIdleTTL = 24 * time.Hour
	// typeRefresh: how long this process trusts its own admission of a type before asking the
	// registry again (which also keeps a type in use from being forgotten).
	typeRefresh = time.Minute
)

var errTooManyTypes = &events.Error{Kind: events.KindInvalid, Code: "too_many_types", Field: "type",
	Message: "this deployment already has its maximum number of event types (PULSE_MAX_TYPES); the event was not stored"}

// typeRegistry admits event types under the deployment's cap. Admissions are cached per
// process, so Redis is asked about a type at most once a minute.
type typeRegistry struct {
	rdb redis.Scripter
	max int

	mu   sync.Mutex
	seen map[string]time.Time // admitted types → when the registry last confirmed them
}

func newTypeRegistry(rdb redis.Scripter, max int) *typeRegistry {
	return &typeRegistry{rdb: rdb, max: max, seen: make(map[string]time.Time)}
}

// admit gives the items whose type the registry refuses their rejection, and reports an error
// when the registry cannot be asked (Redis down): the caller fails the items.
func (r *typeRegistry) admit(ctx context.Context, items []item, now time.Time) error {
	if r.max < 0 {
		return nil
	}
	var ask []string
	r.mu.Lock()
	for i := range items {
		if it := &items[i]; it.status == pending {
			if t, ok := r.seen[it.ev.Type]; !ok || now.Sub(t) > typeRefresh {
				r.seen[it.ev.Type] = time.Time{} // asked once per call, however many items
				ask = append(ask, it.ev.Type)
			}
		}
	}
	r.mu.Unlock()
	if len(ask) == 0 {
		return nil
	}
	args := make([]any, 0, 2+len(ask))
	args = append(args, r.max, int64(typeIdleTTL/time.Second))
	for _, t := range ask {
		args = append(args, t)
	}
	res, err := typesScript.Run(ctx, r.rdb, []string{events.TypesKey}, args...).Int64Slice()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || len(res) != len(ask) {
		for _, t := range ask {
			delete(r.seen, t)
		}
		if err == nil {
			err = fmt.Errorf("types.lua answered %d results for %d types", len(res), len(ask))
		}
		return fmt.Errorf("type registry: %w", err)
	}
	refused := map[string]bool{}
	for i, t := range ask {
		if res[i] == 1 {
			r.seen[t] = now
		} else {
			delete(r.seen, t)
			refused[t] = true
		}
	}
	if len(refused) > 0 {
		for i := range items {
			if it := &items[i]; it.status == pending && refused[it.ev.Type] {
				it.status, it.err = rejected, errTooManyTypes
			}
		}
	}
	return nil
}
