package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
)

// Origins decides which browser origins may use the API besides the page's own: the one
// matcher behind CORS, cross-origin write protection and the live endpoints' Origin check.
//
// A pattern is a host pattern ("*.example.com", "localhost:5173"), matched against the
// Origin's host[:port], or a pattern with a scheme ("https://app.example.com"), matched against
// scheme://host[:port]; both case-insensitively with path.Match. These are the rules of
// coder/websocket's AcceptOptions.OriginPatterns, so a WebSocket handshake that passes here
// passes there too.
type Origins struct {
	patterns []string // lower case
}

// NewOrigins checks the patterns' syntax once, at start, rather than on every request.
func NewOrigins(patterns []string) (*Origins, error) {
	o := &Origins{}
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("allowed origin %q: %w", p, err)
		}
		o.patterns = append(o.patterns, p)
	}
	return o, nil
}

// Allowed reports whether origin (an Origin header value) matches a configured pattern. The
// page's own origin is not considered here: see SameOrigin.
func (o *Origins) Allowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // "null" (sandboxed frames, file://) and garbage never match
	}
	for _, p := range o.patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(p, strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// SameOrigin reports whether the request's Origin names the host it was sent to. The Host
// header has no scheme, so http→https is not told apart (as in net/http's
// CrossOriginProtection); HSTS covers that.
func SameOrigin(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// Check allows requests without an Origin (not from a browser, or a same-origin GET from an
// older one), from the same host, and from an allowed origin. It is the rule for endpoints a
// page opens by URL (WebSocket, EventSource), which CORS does not protect.
func (o *Origins) Check(r *http.Request) error {
	origin := r.Header.Get("Origin")
	switch {
	case origin == "", SameOrigin(r), o.Allowed(origin):
		return nil
	}
	if u, err := url.Parse(origin); err != nil || u.Host == "" {
		return fmt.Errorf("origin %q is not a URL with a host", origin)
	}
	return fmt.Errorf("origin %q is not allowed (PULSE_ALLOWED_ORIGINS)", origin)
}

// errOriginNotAllowed is the one answer to a browser request from an origin that may not make it.
func errOriginNotAllowed(format string, args ...any) *events.Error {
	return events.Errorf(events.KindForbidden, "origin_not_allowed", format, args...)
}

// CrossOrigin is middleware that refuses state-changing requests (every method but GET, HEAD
// and OPTIONS) made by a browser on behalf of another site, with 403 origin_not_allowed. It is
// net/http's CrossOriginProtection with the project's origin patterns: Sec-Fetch-Site
// "same-origin" or "none" passes, any other value passes only from an allowed Origin; without
// Sec-Fetch-Site (older browsers, non-browser clients) a missing Origin or one naming the
// request's host passes, an allowed one too. CORS alone is not enough: a form post or a
// text/plain fetch is a "simple" request that the browser sends without asking first.
func (o *Origins) CrossOrigin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := o.checkWrite(c.Request); err != nil {
			Abort(c, err)
		}
	}
}

func (o *Origins) checkWrite(r *http.Request) *events.Error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	origin := r.Header.Get("Origin")
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		return nil
	case "":
		if origin == "" || SameOrigin(r) || o.Allowed(origin) {
			return nil
		}
	default:
		if o.Allowed(origin) {
			return nil
		}
		if origin == "" {
			return errOriginNotAllowed("a %s request from another site (Sec-Fetch-Site: %s) is not allowed", r.Method, truncate(site, 20))
		}
	}
	return errOriginNotAllowed("a %s request from origin %q is not allowed (PULSE_ALLOWED_ORIGINS)", r.Method, truncate(origin, 100))
}

// CORS is middleware that lets pages of the allowed origins call the API: it answers
// preflights (OPTIONS with Access-Control-Request-Method) with 204 and the methods and headers
// the API takes, and marks answers readable by those origins. Keys travel in headers, never in
// cookies, so credentials are not allowed. A preflight from any other origin gets 403
// origin_not_allowed; other requests from such origins go on without CORS headers, so the
// browser keeps the answer from the page (and CrossOrigin refuses the ones that write).
func (o *Origins) CORS() gin.HandlerFunc {
	allow := cors.New(cors.Config{
		AllowOriginFunc: o.Allowed,
		AllowMethods:    []string{http.MethodGet, http.MethodHead, http.MethodPost},
		AllowHeaders:    []string{"Authorization", "X-API-Key", "Content-Type", "Content-Encoding", "X-Request-Id"},
		ExposeHeaders:   []string{"Retry-After", "X-Request-Id", "WWW-Authenticate"},
		// Browsers cap it anyway (Chromium at 2 h); an hour lets a changed setting show soon.
		MaxAge: time.Hour,
	})
	return func(c *gin.Context) {
		r := c.Request
		origin := r.Header.Get("Origin")
		if origin == "" || SameOrigin(r) {
			return // not a cross-origin request
		}
		if !o.Allowed(origin) {
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				Abort(c, errOriginNotAllowed("origin %q is not allowed (PULSE_ALLOWED_ORIGINS)", truncate(origin, 100)))
			}
			return
		}
		allow(c)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
