package loadgen

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pulsehq/pulse/client"
)

const (
	subjectsPerQuery = 100
	queryParallelism = 8
)

// newHTTPClient is for the queries around the run (counts); events go through httpConn.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: queryParallelism,
			DisableCompression:  true,
		},
	}
}

// observe reads the window counts of every subject of the run: names of the windows, and
// counts[rank][window].
func (r *runner) observe(ctx context.Context) ([]string, [][]int64, error) {
	n := r.cfg.Subjects
	counts := make([][]int64, n)
	var names []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(queryParallelism)
	answers := make([]client.Windows, (n+subjectsPerQuery-1)/subjectsPerQuery)
	for q := range answers {
		g.Go(func() error {
			lo := q * subjectsPerQuery
			var subjects []string
			for rank := lo; rank < min(lo+subjectsPerQuery, n); rank++ {
				subjects = append(subjects, r.subject(rank))
			}
			var err error
			answers[q], err = r.api.Windows(gctx, r.cfg.Type, subjects...)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for q, a := range answers {
		if names == nil {
			names = a.Windows
		}
		byName := make(map[string]map[string]int64, len(a.Counts))
		for _, c := range a.Counts {
			byName[c.Subject] = c.Counts
		}
		lo := q * subjectsPerQuery
		for rank := lo; rank < min(lo+subjectsPerQuery, n); rank++ {
			counts[rank] = make([]int64, len(names))
			c := byName[r.subject(rank)]
			for w, name := range names {
				counts[rank][w] = c[name] // absent: zero, as the API answers for unknown subjects
			}
		}
	}
	return names, counts, nil
}

// compare checks the observed counts against the accepted events, in every window that has
// covered the whole run so far (margin for the one-second buckets and clock skew); windows
// shorter than the run are skipped, since events have already left them.
func (r *runner) compare(names []string, counts [][]int64, sinceStart time.Duration) []Drift {
	var out []Drift
	for w, name := range names {
		d, err := time.ParseDuration(name)
		if err != nil || d < sinceStart+2*time.Second {
			continue
		}
		dr := Drift{Window: name}
		for rank := range counts {
			want, got := r.track.expectedCount(rank), counts[rank][w]
			dr.Expected += want
			dr.Observed += got
			if want != got {
				dr.Mismatched++
			}
		}
		dr.Diff = dr.Observed - dr.Expected
		out = append(out, dr)
	}
	return out
}
