package consumers

import (
	"context"
	"errors"
)

// Sentinel errors a Handler returns (or wraps, or passes to Batch.Fail) to steer the runtime.
var (
	// ErrSkipRetry marks a poison entry: retrying cannot help (malformed record), so the
	// runtime sends it to the failure stream now instead of after MaxDeliveries attempts.
	ErrSkipRetry = errors.New("not retried")
	// ErrTransient marks a failure of a dependency (search engine down, Redis timeout): the
	// entry is fine, so the attempt does not count toward MaxDeliveries and the entry is never
	// dead-lettered for it. The runtime keeps the entries claimed and retries them with backoff.
	ErrTransient = errors.New("transient failure")
)

// Handler processes one batch of entries read from one partition stream. It is shaped like
// net/http's Handler: the runtime owns reading, claiming, retrying and dead-lettering, the
// handler owns the effect.
//
// Returning nil means every entry not marked with Batch.Fail has taken effect; the runtime
// acknowledges those (XACK) unless the handler called Batch.Acked because it acknowledged them
// itself, atomically with the effect. Returning an error fails every entry not already
// marked. Entries can be delivered more than once (crash, reclaim): effects must be idempotent
// or, like the counter's script, guarded by their own XACK.
type Handler interface {
	Handle(ctx context.Context, b *Batch) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, b *Batch) error

// Handle calls f(ctx, b).
func (f HandlerFunc) Handle(ctx context.Context, b *Batch) error { return f(ctx, b) }

// Entry is one stream entry of a batch.
type Entry struct {
	ID     string
	Values map[string]any // field → string value, as go-redis returns them; never nil
	// Deliveries counts the group's deliveries of the entry, this one included (1 for an
	// entry read for the first time).
	Deliveries int64
}

// Batch is what a Handler gets: entries of one partition stream, in stream order.
type Batch struct {
	Partition int
	Stream    string
	Group     string
	Entries   []Entry

	errs  []error
	acked bool
}

func newBatch(partition int, stream, group string, entries []Entry) *Batch {
	return &Batch{Partition: partition, Stream: stream, Group: group, Entries: entries, errs: make([]error, len(entries))}
}

// Fail marks entry i as failed with err, so that one bad entry does not fail its batch. Wrap
// ErrSkipRetry to dead-letter it at once, ErrTransient to retry it without counting the
// attempt; any other error leaves it pending for a later attempt (dead-lettered after
// MaxDeliveries). A nil err is ignored.
func (b *Batch) Fail(i int, err error) {
	if err != nil {
		b.errs[i] = err
	}
}

// Err returns the error entry i was marked with, or nil.
func (b *Batch) Err(i int) error { return b.errs[i] }

// Acked tells the runtime that the handler acknowledged every entry it did not fail itself
// (for instance inside the script that applied them), so the runtime sends no XACK.
func (b *Batch) Acked() { b.acked = true }

// IDs lists the entries' ids.
func (b *Batch) IDs() []string {
	ids := make([]string, len(b.Entries))
	for i, e := range b.Entries {
		ids[i] = e.ID
	}
	return ids
}
