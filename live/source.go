package live

import (
	"context"

	api "github.com/pulsehq/pulse/client"
)

// Source reads current counts from the store the changes come from. The counter's Reader is
// the production Source (adapted in cmd/pulse/app); tests use an in-memory one.
type Source interface {
	// Windows returns the counts of subjects of typ, in window order (a subject never counted
	// may be missing: it counts zero), the time of the read in unix ms, and per partition the
	// version of the last change already included: a change with Version ≤ it is older.
	Windows(ctx context.Context, typ string, subjects []string) (Snapshot, error)
	// Top returns the limit subjects of typ with the highest count in window (an index into
	// the deployment's windows), highest first.
	Top(ctx context.Context, typ string, window, limit int) (Leaderboard, error)
}

// Snapshot is what Source.Windows read.
type Snapshot struct {
	At       int64
	Counts   map[string][]int64
	Versions map[int]int64
}

// Leaderboard is what Source.Top read.
type Leaderboard struct {
	At      int64
	Entries []api.Entry
}
