// Package client is the Go SDK of Pulse: send events, read counts, search and failures, and
// follow live counts over the WebSocket (docs/client.md). Its types are the wire contract:
// the server's answers decode into them, and the dashboard's TypeScript types are checked
// against them.
//
// Sending is safe to retry: every event gets an id before its first attempt, and events the
// server did not confirm are sent again with the same id, so each is stored exactly once.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config configures a Client. Only URL is required.
type Config struct {
	// URL is the server's base URL, e.g. "http://localhost:8080".
	URL string
	// APIKey is sent as "Authorization: Bearer <key>" when set.
	APIKey string
	// HTTPClient makes the requests (default: a client with a 30 s timeout).
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts of one call, the first included (default 8; 1: no
	// retries). Retries stop anyway when the call's context ends.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts, doubled after each failure
	// with jitter (defaults 100 ms and 5 s). A Retry-After from the server is honoured, up to
	// MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
}

// Client talks to one Pulse server (or a load balancer in front of several). It is safe for
// concurrent use.
type Client struct {
	cfg  Config
	base *url.URL
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("client: URL %q: want http(s)://host[:port]", cfg.URL)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.MaxAttempts < 1 || cfg.MinBackoff < 0 || cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("client: MaxAttempts %d, backoff %s-%s: want at least 1 attempt and 0 <= min <= max",
			cfg.MaxAttempts, cfg.MinBackoff, cfg.MaxBackoff)
	}
	return &Client{cfg: cfg, base: base}, nil
}

// Error is an answer of the server other than success: its status and the error body
// {"error": {"code", "message", "details"}}.
type Error struct {
	Status     int
	Code       string
	Message    string
	Details    json.RawMessage
	RetryAfter time.Duration // from the Retry-After header; 0 if none
}

func (e *Error) Error() string {
	return fmt.Sprintf("pulse: %d %s: %s", e.Status, e.Code, e.Message)
}

// Temporary reports whether the same request may succeed later: 503 (Redis unavailable, a
// full backlog, a server shutting down or full) and 429 (too many connections).
func (e *Error) Temporary() bool {
	return e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests
}

// request is one HTTP call, made again on a retry.
type request struct {
	method, path string
	query        url.Values
	contentType  string
	body         []byte
}

// do makes r once and decodes a 2xx body into out (if not nil). Any other status is an *Error;
// a request that got no answer is a transport error.
func (c *Client) do(ctx context.Context, r request, out any) error {
	u := *c.base
	u.Path += r.path
	u.RawQuery = r.query.Encode()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return err
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	if res.StatusCode/100 != 2 {
		return decodeError(res, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the answer of %s %s: %w", r.method, r.path, err)
	}
	return nil
}

func decodeError(res *http.Response, data []byte) *Error {
	var body struct {
		Error struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	e := &Error{Status: res.StatusCode}
	if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Details = body.Error.Code, body.Error.Message, body.Error.Details
	} else {
		e.Code, e.Message = "http_"+strconv.Itoa(res.StatusCode), strings.TrimSpace(string(data[:min(len(data), 200)]))
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// retry runs attempt until it succeeds, fails for good, MaxAttempts is reached or ctx ends.
// attempt reports whether its failure is worth another try; the wait grows from MinBackoff,
// and a server's Retry-After is honoured (up to MaxBackoff).
func (c *Client) retry(ctx context.Context, attempt func() (again bool, err error)) error {
	wait := c.cfg.MinBackoff
	for n := 1; ; n++ {
		again, err := attempt()
		if err == nil || !again || n >= c.cfg.MaxAttempts {
			return err
		}
		d := wait/2 + rand.N(wait/2+1) // jitter: clients that failed together do not retry together
		if e := (*Error)(nil); errors.As(err, &e) && e.RetryAfter > d {
			d = min(e.RetryAfter, c.cfg.MaxBackoff)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, c.cfg.MaxBackoff)
	}
}

// retryable reports whether a failed read may succeed if made again: no answer at all, or a
// temporary refusal.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary()
	}
	return true // transport error: reads change nothing, so trying again is always safe
}

// get reads path into out, retrying what may succeed later.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	return c.retry(ctx, func() (bool, error) {
		err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, out)
		return retryable(ctx, err), err
	})
}
