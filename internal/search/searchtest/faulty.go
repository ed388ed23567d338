// Package searchtest holds test doubles of search engines. Only tests import it, so none of
// it is compiled into the binary.
package searchtest

import (
	"context"
	"errors"
	"sync"

	"github.com/pulsehq/pulse/internal/search"
)

// ErrInjected is the outage a Faulty engine plays.
var ErrInjected = errors.New("injected search engine outage")

// Faulty wraps a search.Engine and fails on demand, so that tests can play an engine outage or a
// document the engine refuses for good, with the real engine behind it.
type Faulty struct {
	search.Engine

	mu       sync.Mutex
	down     bool
	reject   func(search.Doc) bool
	failures int
}

// NewFaulty wraps e; it behaves like e until told otherwise.
func NewFaulty(e search.Engine) *Faulty { return &Faulty{Engine: e} }

// SetDown makes every call fail with ErrInjected (true) or pass through again (false).
func (f *Faulty) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Reject makes Index refuse, with search.ErrRejected, any batch holding a document for which bad
// returns true, the way a real engine voids a whole task for one bad document. nil clears it.
func (f *Faulty) Reject(bad func(search.Doc) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reject = bad
}

// Failures is how many calls failed because of this wrapper.
func (f *Faulty) Failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failures
}

func (f *Faulty) fail(docs []search.Doc) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.failures++
		return ErrInjected
	}
	if f.reject != nil {
		for _, d := range docs {
			if f.reject(d) {
				f.failures++
				return search.ErrRejected
			}
		}
	}
	return nil
}

// Index fails while down or when a document is rejected, else indexes through.
func (f *Faulty) Index(ctx context.Context, docs []search.Doc) error {
	if err := f.fail(docs); err != nil {
		return err
	}
	return f.Engine.Index(ctx, docs)
}

// Search fails while down.
func (f *Faulty) Search(ctx context.Context, q search.Query) (*search.Result, error) {
	if err := f.fail(nil); err != nil {
		return nil, err
	}
	return f.Engine.Search(ctx, q)
}

// DeleteBefore fails while down.
func (f *Faulty) DeleteBefore(ctx context.Context, cutoff int64) error {
	if err := f.fail(nil); err != nil {
		return err
	}
	return f.Engine.DeleteBefore(ctx, cutoff)
}
