package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Windows reads the exact counts of subjects of typ in every window (GET /v1/windows).
func (c *Client) Windows(ctx context.Context, typ string, subjects ...string) (Windows, error) {
	var w Windows
	err := c.get(ctx, "/v1/windows", url.Values{"type": {typ}, "subject": subjects}, &w)
	return w, err
}

// Top reads the limit subjects of typ with the highest counts in window (GET /v1/top). An
// empty window is the shortest; limit 0 is the server's default (10).
func (c *Client) Top(ctx context.Context, typ, window string, limit int) (Top, error) {
	q := url.Values{"type": {typ}}
	if window != "" {
		q.Set("window", window)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var t Top
	err := c.get(ctx, "/v1/top", q, &t)
	return t, err
}

// CountsQuery selects events of Type (and Subject, if set) in [From, To); Step > 0 asks for a
// series (whole minutes).
type CountsQuery struct {
	Type     string
	Subject  string
	From, To time.Time
	Step     time.Duration
}

// Counts reads the history of a type or a subject (GET /v1/counts).
func (c *Client) Counts(ctx context.Context, q CountsQuery) (Counts, error) {
	v := url.Values{
		"type": {q.Type},
		"from": {strconv.FormatInt(q.From.UnixMilli(), 10)},
		"to":   {strconv.FormatInt(q.To.UnixMilli(), 10)},
	}
	if q.Subject != "" {
		v.Set("subject", q.Subject)
	}
	if q.Step > 0 {
		v.Set("step", q.Step.String())
	}
	var out Counts
	err := c.get(ctx, "/v1/counts", v, &out)
	return out, err
}

// SearchQuery is a search of events or failures (docs/search.md). Zero fields do not filter.
type SearchQuery struct {
	Text     string
	Types    []string
	Subject  string
	Stages   []string // failures only
	From, To time.Time
	Oldest   bool // oldest first (newest first by default)
	Limit    int  // 0: the server's default
	Offset   int
}

// Search finds events (GET /v1/search).
func (c *Client) Search(ctx context.Context, q SearchQuery) (SearchResult, error) {
	return c.search(ctx, "/v1/search", q)
}

// SearchFailures finds dead letters and rejected input (GET /v1/search/failures; a full key).
func (c *Client) SearchFailures(ctx context.Context, q SearchQuery) (SearchResult, error) {
	return c.search(ctx, "/v1/search/failures", q)
}

func (c *Client) search(ctx context.Context, path string, q SearchQuery) (SearchResult, error) {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", q.Text)
	v["type"] = q.Types
	v["stage"] = q.Stages
	set("subject", q.Subject)
	if !q.From.IsZero() {
		set("from", strconv.FormatInt(q.From.UnixMilli(), 10))
	}
	if !q.To.IsZero() {
		set("to", strconv.FormatInt(q.To.UnixMilli(), 10))
	}
	if q.Oldest {
		set("sort", "time:asc")
	}
	if q.Limit > 0 {
		set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset > 0 {
		set("offset", strconv.Itoa(q.Offset))
	}
	var r SearchResult
	err := c.get(ctx, path, v, &r)
	return r, err
}

// Failures reads a page of dead letters, newest first (GET /v1/failures; a full key). cursor
// is "" for the first page, then the next cursor returned; next is "" after the last page.
func (c *Client) Failures(ctx context.Context, limit int, cursor string) (items []Failure, next string, err error) {
	return c.failures(ctx, "/v1/failures", "failures", limit, cursor)
}

// Rejections reads a page of rejected input, newest first (GET /v1/rejections; a full key).
func (c *Client) Rejections(ctx context.Context, limit int, cursor string) (items []Failure, next string, err error) {
	return c.failures(ctx, "/v1/rejections", "rejections", limit, cursor)
}

func (c *Client) failures(ctx context.Context, path, name string, limit int, cursor string) ([]Failure, string, error) {
	v := url.Values{}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	var page map[string]json.RawMessage
	if err := c.get(ctx, path, v, &page); err != nil {
		return nil, "", err
	}
	var items []Failure
	var next string
	if err := json.Unmarshal(page[name], &items); err != nil {
		return nil, "", fmt.Errorf("decode %s: %w", name, err)
	}
	if err := json.Unmarshal(page["next_cursor"], &next); err != nil {
		return nil, "", fmt.Errorf("decode next_cursor: %w", err)
	}
	return items, next, nil
}

// Replay appends dead letters again to their streams (POST /v1/failures/replay; a full key):
// the records ids, or every record when ids is empty. Replaying a record twice counts it once.
func (c *Client) Replay(ctx context.Context, ids ...string) (ReplayResult, error) {
	body := []byte(`{"all":true}`)
	if len(ids) > 0 {
		var err error
		if body, err = json.Marshal(map[string][]string{"ids": ids}); err != nil {
			return ReplayResult{}, err
		}
	}
	var r ReplayResult
	err := c.retry(ctx, func() (bool, error) {
		// A replay is idempotent: a record replayed twice is appended once.
		err := c.do(ctx, request{method: http.MethodPost, path: "/v1/failures/replay", contentType: "application/json", body: body}, &r)
		return retryable(ctx, err), err
	})
	return r, err
}
