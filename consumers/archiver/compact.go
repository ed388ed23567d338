package archiver

import (
	"context"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/pulsehq/pulse/internal/archive"
)

// Compaction. At low rates a roll writes a small file per partition every PULSE_ARCHIVE_ROLL,
// and queries pay per file (BENCHMARKS.md). Once an event hour has ended CompactAfter ago, the
// holder merges the partition's files of that hour into one, named after the union of their
// spans with the suffix "-c", then removes them.
//
// Exactly once still holds. The holder compacts only with an empty roll, so every entry of the
// partition read so far is in a file, and entries read later have higher ids: every entry of
// the hour within the merged span is in one of the merged files, so the compacted file's name
// makes a true promise for the restart check. The merged files stay for CompactGrace after the
// compacted file was written, so that a query that listed them before still finds them when it
// opens them: readers skip files a compacted file's span contains (archive.Live), and a later
// pass, or the next holder's, removes them.

// compactWindow is how far back a new holder looks for hours to compact: what the last holder
// may have left (a holder compacts only hours it wrote to).
const compactWindow = 48

// recentHours are the hours a new holder looks at.
func recentHours(now time.Time) map[int64]bool {
	hours := map[int64]bool{}
	last := archive.HourOf(now.UnixMilli())
	for h := last - compactWindow; h <= last; h++ {
		hours[h] = true
	}
	return hours
}

// compact compacts every touched hour that ended CompactAfter ago.
func (h *holder) compact(ctx context.Context) error {
	ended := archive.HourOf(time.Now().Add(-h.a.cfg.CompactAfter).UnixMilli()) // hours before it ended long enough ago
	for _, hour := range slices.Sorted(maps.Keys(h.touched)) {
		if hour >= ended {
			continue
		}
		done, err := h.compactHour(ctx, hour)
		if err != nil {
			return err
		}
		if done {
			delete(h.touched, hour)
		}
	}
	return nil
}

// compactHour merges the partition's live files of hour into one, unless they are one already
// or too large to merge in memory, and removes the files compacted files superseded more than
// CompactGrace ago. done: nothing is left to do in the hour.
func (h *holder) compactHour(ctx context.Context, hour int64) (done bool, err error) {
	a := h.a
	st := a.cfg.Store
	files, err := st.Files(ctx, archive.HourPrefix(hour)+archive.FilePrefix(h.p))
	if err != nil {
		return false, err
	}
	live, superseded := archive.Live(files)
	var size int64
	for _, f := range live {
		size += f.Size
	}
	if len(live) >= 2 && size <= a.cfg.CompactBytes {
		var rows []archive.Row
		for _, f := range live {
			r, err := st.ReadRows(ctx, f.Key)
			if err != nil {
				return false, err
			}
			rows = append(rows, r...)
		}
		if err := h.holding(ctx); err != nil {
			return false, err
		}
		key := archive.CompactedKey(hour, h.p, union(live))
		if err := st.Put(ctx, key, func(w io.Writer) error { return archive.WriteRows(w, rows) }); err != nil {
			return false, err
		}
		if a.cfg.Crash != nil {
			a.cfg.Crash("compacted", h.p)
		}
		a.m.compacted.Add(float64(len(live)))
		return false, nil // the merged files go after CompactGrace, at a later pass
	}
	done = true
	for _, f := range superseded {
		if time.Since(supersededAt(f, files)) < a.cfg.CompactGrace {
			done = false
			continue
		}
		if err := st.Delete(ctx, f.Key); err != nil {
			return false, err
		}
	}
	return done, nil
}

// supersededAt is when the first compacted file holding f's span was written.
func supersededAt(f archive.File, files []archive.File) time.Time {
	var at time.Time
	for _, c := range files {
		if c.Compacted && c.Key != f.Key && c.Span.Contains(f.Span.First) && c.Span.Contains(f.Span.Last) && (at.IsZero() || c.ModTime.Before(at)) {
			at = c.ModTime
		}
	}
	return at
}

// union is the smallest span holding every file's.
func union(files []archive.File) archive.Span {
	s := files[0].Span
	for _, f := range files[1:] {
		if f.Span.First.Less(s.First) {
			s.First = f.Span.First
		}
		if s.Last.Less(f.Span.Last) {
			s.Last = f.Span.Last
		}
	}
	return s
}
