package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// windowsAnswer is the part of GET /v1/windows the check reads.
type windowsAnswer struct {
	Windows []string         `json:"windows"`
	Counts  []map[string]any `json:"counts"`
}

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
	answers := make([]windowsAnswer, (n+subjectsPerQuery-1)/subjectsPerQuery)
	for q := range answers {
		g.Go(func() error {
			lo := q * subjectsPerQuery
			v := url.Values{"type": {r.cfg.Type}}
			for rank := lo; rank < min(lo+subjectsPerQuery, n); rank++ {
				v.Add("subject", r.subject(rank))
			}
			return r.getJSON(gctx, "/v1/windows?"+v.Encode(), &answers[q])
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for q, a := range answers {
		if names == nil {
			names = a.Windows
		}
		byName := make(map[string]map[string]any, len(a.Counts))
		for _, c := range a.Counts {
			s, _ := c["subject"].(string)
			byName[s] = c
		}
		lo := q * subjectsPerQuery
		for rank := lo; rank < min(lo+subjectsPerQuery, n); rank++ {
			counts[rank] = make([]int64, len(names))
			c := byName[r.subject(rank)]
			for w, name := range names {
				f, _ := c[name].(float64) // absent: zero, as the API answers for unknown subjects
				counts[rank][w] = int64(f)
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

func (r *runner) getJSON(ctx context.Context, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return err
	}
	if r.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.cfg.APIKey)
	}
	res, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", strings.SplitN(path, "?", 2)[0], err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", strings.SplitN(path, "?", 2)[0], err)
	}
	if res.StatusCode != http.StatusOK {
		return &statusError{path: strings.SplitN(path, "?", 2)[0], status: res.StatusCode, body: string(body[:min(len(body), 300)])}
	}
	return json.Unmarshal(body, into)
}

type statusError struct {
	path   string
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.path, e.status, strings.TrimSpace(e.body))
}
