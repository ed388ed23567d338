package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
)

// Access is what a presented key may do.
type Access int

const (
	AccessNone    Access = iota
	AccessBrowser        // read, send events and likes: safe to hand to a web page
	AccessFull           // everything, including operator actions (failure replay)
)

// Keys checks API keys. Full keys come from PULSE_API_KEYS, browser keys from
// PULSE_BROWSER_KEYS. With no full key configured the API is open.
type Keys struct {
	full, browser [][32]byte
}

// NewKeys digests the keys once: comparing digests in constant time hides key lengths too.
func NewKeys(full, browser []string) *Keys {
	k := &Keys{}
	for _, s := range full {
		if s = strings.TrimSpace(s); s != "" {
			k.full = append(k.full, sha256.Sum256([]byte(s)))
		}
	}
	for _, s := range browser {
		if s = strings.TrimSpace(s); s != "" {
			k.browser = append(k.browser, sha256.Sum256([]byte(s)))
		}
	}
	return k
}

// Open reports whether no key is required.
func (k *Keys) Open() bool { return len(k.full) == 0 && len(k.browser) == 0 }

// Check returns the access the request's key grants. Keys come as "Authorization: Bearer" or
// "X-API-Key"; with inURL also as ?access_token=, which only the routes a browser opens by URL
// (WebSocket, EventSource: they cannot set headers) accept. Elsewhere a key in the URL is
// ignored: URLs end up in proxy logs, browser history and Referer headers.
func (k *Keys) Check(r *http.Request, inURL bool) Access {
	if k.Open() {
		return AccessFull
	}
	key := r.Header.Get("X-API-Key")
	if h := r.Header.Get("Authorization"); key == "" && len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		key = strings.TrimSpace(h[7:])
	}
	if key == "" && inURL {
		key = r.URL.Query().Get("access_token")
	}
	if key == "" {
		return AccessNone
	}
	d := sha256.Sum256([]byte(key))
	if match(k.full, d) {
		return AccessFull
	}
	if match(k.browser, d) {
		return AccessBrowser
	}
	return AccessNone
}

func match(set [][32]byte, d [32]byte) bool {
	found := 0
	for i := range set {
		found |= subtle.ConstantTimeCompare(set[i][:], d[:])
	}
	return found == 1
}

// Require is middleware that lets through requests whose key, in a header, grants at least
// need.
func (k *Keys) Require(need Access) gin.HandlerFunc { return k.require(need, false) }

// RequireStream is Require for the endpoints a browser opens by URL (WebSocket, EventSource),
// which also take the key as ?access_token=.
func (k *Keys) RequireStream(need Access) gin.HandlerFunc { return k.require(need, true) }

func (k *Keys) require(need Access, inURL bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		switch got := k.Check(c.Request, inURL); {
		case got >= need:
			c.Next()
		case got == AccessNone:
			c.Header("WWW-Authenticate", `Bearer realm="pulse"`)
			Abort(c, events.Errorf(events.KindUnauthorized, "unauthorized", "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"))
		default:
			Abort(c, events.Errorf(events.KindForbidden, "forbidden", "this key may not do that"))
		}
	}
}
