package search

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// Limits of the search API.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	// MaxOffset bounds paging: deep offsets cost the engine offset+limit sorted hits. Narrow
	// the time range (from/to) to go further.
	MaxOffset  = 100_000
	maxTextLen = 512
)

// API serves GET /search over events and GET /search/failures over the failure stream.
type API struct {
	Events   Engine
	Failures Engine
	Timeout  time.Duration // one search; default 10 s
	Log      *slog.Logger  // default slog.Default()
}

// Mount adds GET /search to events and GET /search/failures to failures (the /v1 group behind
// the caller's key checks: failure records deserve a stricter one).
func (a *API) Mount(events, failures gin.IRoutes) {
	events.GET("/search", a.handler(a.Events, false))
	failures.GET("/search/failures", a.handler(a.Failures, true))
}

// Response is the body of a search answer.
type Response struct {
	Hits   []Doc                       `json:"hits"`
	Total  int64                       `json:"total"`
	Facets map[string]map[string]int64 `json:"facets"`
	TookMS int64                       `json:"took_ms"`
}

func (a *API) handler(e Engine, failures bool) gin.HandlerFunc {
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	log := a.Log
	if log == nil {
		log = slog.Default()
	}
	return func(c *gin.Context) {
		start := time.Now()
		q, err := parseQuery(c.Request.URL.Query(), failures)
		if err != nil {
			httpapi.Abort(c, err)
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
		defer cancel()
		res, err := e.Search(ctx, q)
		if err != nil {
			log.WarnContext(ctx, "search failed", "request_id", httpapi.RequestID(c), "err", err)
			httpapi.Abort(c, events.Unavailable("search_unavailable", "the search engine is unavailable; retry later", time.Second))
			return
		}
		for i := range res.Hits {
			if len(res.Hits[i].Data) == 0 {
				res.Hits[i].Data = json.RawMessage("{}")
			}
		}
		c.JSON(http.StatusOK, Response{Hits: res.Hits, Total: res.Total, Facets: res.Facets,
			TookMS: time.Since(start).Milliseconds()})
	}
}

// parseQuery reads the search parameters: q, type (repeatable), subject, from, to (RFC 3339
// or unix ms, both inclusive), sort (time:desc | time:asc), limit, offset, and for failures
// stage (repeatable). Empty values count as absent. Errors are *events.Error (400).
func parseQuery(v url.Values, failures bool) (Query, error) {
	q := Query{Limit: DefaultLimit, Facets: []string{FacetType}}
	if failures {
		q.Facets = append(q.Facets, FacetStage)
	}
	q.Text = v.Get("q")
	if len(q.Text) > maxTextLen {
		return q, httpapi.BadParam("q", "q is %d bytes, at most %d", len(q.Text), maxTextLen)
	}
	var err error
	if q.Types, err = list(v, "type", 64); err != nil {
		return q, err
	}
	if failures {
		if q.Stages, err = list(v, "stage", 64); err != nil {
			return q, err
		}
	}
	if q.Subject = v.Get("subject"); utf8.RuneCountInString(q.Subject) > events.MaxSubjectLen {
		return q, httpapi.BadParam("subject", "subject is longer than %d characters", events.MaxSubjectLen)
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(p.name); s != "" {
			ms, perr := events.ParseTimeString(s)
			if perr != nil {
				return q, httpapi.BadParam(p.name, "%s: %s", p.name, perr.Message)
			}
			*p.dst = ms
		}
	}
	if q.From != 0 && q.To != 0 && q.To < q.From {
		return q, httpapi.BadParam("to", "to is before from")
	}
	switch s := v.Get("sort"); s {
	case "", "time:desc":
	case "time:asc":
		q.Asc = true
	default:
		return q, httpapi.BadParam("sort", "sort must be time:desc or time:asc, got %q", truncate(s, 32))
	}
	if q.Limit, err = intParam(v, "limit", DefaultLimit, MaxLimit); err != nil {
		return q, err
	}
	if q.Offset, err = intParam(v, "offset", 0, MaxOffset); err != nil {
		return q, err
	}
	return q, nil
}

// list reads a repeatable parameter, skipping empty values.
func list(v url.Values, name string, maxLen int) ([]string, error) {
	var out []string
	for _, s := range v[name] {
		if s == "" {
			continue
		}
		if len(s) > maxLen {
			return nil, httpapi.BadParam(name, "%s is longer than %d bytes", name, maxLen)
		}
		out = append(out, s)
	}
	return out, nil
}

func intParam(v url.Values, name string, def, maxV int) (int, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxV {
		return 0, httpapi.BadParam(name, "%s must be an integer from 0 to %d, got %q", name, maxV, truncate(s, 32))
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
