package search

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	// maxFacetQueryLen is the longest facet value there is: a type (64 bytes).
	maxFacetQueryLen = 64
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
	events.GET("/search/facets", a.facets(a.Events))
	failures.GET("/search/failures", a.handler(a.Failures, true))
}

// Response is the body of a search answer.
type Response struct {
	Hits   []Hit                       `json:"hits"`
	Total  int64                       `json:"total"`
	Facets map[string]map[string]int64 `json:"facets"`
	TookMS int64                       `json:"took_ms"`
}

// FacetsResponse is the body of a facet value search.
type FacetsResponse struct {
	Facet  string       `json:"facet"`
	Values []FacetValue `json:"values"`
	TookMS int64        `json:"took_ms"`
}

// timeout is one search's bound.
func (a *API) timeout() time.Duration {
	if a.Timeout <= 0 {
		return 10 * time.Second
	}
	return a.Timeout
}

// unavailable answers an engine error.
func (a *API) unavailable(c *gin.Context, err error) {
	log := a.Log
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(c.Request.Context(), "search failed", "request_id", httpapi.RequestID(c), "err", err)
	httpapi.Abort(c, events.Unavailable("search_unavailable", "the search engine is unavailable; retry later", time.Second))
}

// facets serves GET /search/facets?facet=type&q=vid&limit=20: the values of a facet that start
// with q, for pickers with too many values to list.
func (a *API) facets(e Engine) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		v := c.Request.URL.Query()
		facet := v.Get("facet")
		if facet != FacetType {
			httpapi.Abort(c, httpapi.BadParam("facet", "facet must be %q, got %q", FacetType, truncate(facet, 32)))
			return
		}
		prefix := v.Get("q")
		if len(prefix) > maxFacetQueryLen {
			httpapi.Abort(c, httpapi.BadParam("q", "q is %d bytes, at most %d", len(prefix), maxFacetQueryLen))
			return
		}
		limit, err := intParam(v, "limit", DefaultLimit, MaxFacetValues)
		if err != nil {
			httpapi.Abort(c, err)
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), a.timeout())
		defer cancel()
		values, err := e.FacetValues(ctx, facet, prefix, limit)
		if err != nil {
			a.unavailable(c, err)
			return
		}
		c.JSON(http.StatusOK, FacetsResponse{Facet: facet, Values: values, TookMS: time.Since(start).Milliseconds()})
	}
}

func (a *API) handler(e Engine, failures bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		q, err := parseQuery(c.Request.URL.Query(), failures)
		if err != nil {
			httpapi.Abort(c, err)
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), a.timeout())
		defer cancel()
		res, err := e.Search(ctx, q)
		if err != nil {
			a.unavailable(c, err)
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

// parseQuery reads the search parameters: q (where an "id:<id>" word looks up one id), type
// (repeatable), subject, from, to (RFC 3339 or unix ms, both inclusive), sort (time:desc |
// time:asc), limit, offset, and for failures stage (repeatable). Empty values count as absent.
// Errors are *events.Error (400).
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
	if q.Text, q.ID, err = idLookup(q.Text); err != nil {
		return q, err
	}
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

// idLookup takes an "id:<id>" word out of text: it asks for that exact id (ids are
// case-sensitive, and may hold '.' and ':' that free text splits words at).
func idLookup(text string) (rest, id string, err error) {
	words := strings.Fields(text)
	kept := words[:0]
	for _, w := range words {
		v, ok := strings.CutPrefix(w, "id:")
		switch {
		case !ok:
			kept = append(kept, w)
		case id != "":
			return "", "", httpapi.BadParam("q", "q asks for more than one id: search one id at a time")
		case !events.ValidID(v):
			return "", "", httpapi.BadParam("q", "id:%s is no event id (1-%d characters of [A-Za-z0-9._:-])", truncate(v, 32), events.MaxIDLen)
		default:
			id = v
		}
	}
	if id == "" {
		return text, "", nil // as typed: whether it ends with a word decides the prefix
	}
	return strings.Join(kept, " "), id, nil
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
