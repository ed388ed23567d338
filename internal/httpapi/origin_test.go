package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestOriginsAllowed(t *testing.T) {
	t.Parallel()
	o, err := NewOrigins([]string{"https://app.example.com", "*.trusted.test", "LOCALHOST:5173", " "})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		origin string
		want   bool
	}{
		{"https://app.example.com", true},
		{"http://app.example.com", false}, // the scheme is part of that pattern
		{"https://APP.example.com", true},
		{"http://x.trusted.test", true},
		{"https://x.trusted.test:8443", false}, // a host pattern matches host[:port]
		{"http://trusted.test", false},
		{"http://localhost:5173", true},
		{"http://localhost:5174", false},
		{"http://evil.test", false},
		{"null", false},
		{"", false},
		{"::", false},
	} {
		if got := o.Allowed(tc.origin); got != tc.want {
			t.Errorf("Allowed(%q) = %v, want %v", tc.origin, got, tc.want)
		}
	}
	if _, err := NewOrigins([]string{"[x"}); err == nil {
		t.Error("a malformed pattern was accepted")
	}
}

func TestOriginsCheck(t *testing.T) {
	t.Parallel()
	o, _ := NewOrigins([]string{"ok.test"})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},                       // not a browser
		{"http://pulse.test:8080", true}, // same host
		{"http://ok.test", true},
		{"http://evil.test", false},
		{"null", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://pulse.test:8080/v1/live", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if err := o.Check(r); (err == nil) != tc.ok {
			t.Errorf("Check(origin %q) = %v, want ok %v", tc.origin, err, tc.ok)
		}
	}
}

// edgeEngine is an engine with CORS and the cross-origin check, and routes that answer 200.
func edgeEngine(t *testing.T, patterns ...string) *gin.Engine {
	t.Helper()
	o, err := NewOrigins(patterns)
	if err != nil {
		t.Fatal(err)
	}
	r := Engine(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.Use(o.CORS(), o.CrossOrigin())
	ok := func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) }
	r.GET("/v1/x", ok)
	r.POST("/v1/x", ok)
	return r
}

func serve(r http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var b Body
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("%d %q: not the error envelope: %v", w.Code, w.Body, err)
	}
	return b.Error.Code
}

// A cross-site page can make a browser send a POST without asking (a form, or fetch with a
// text/plain body): only the page's own origin and the allowed ones may write.
func TestCrossOrigin(t *testing.T) {
	t.Parallel()
	r := edgeEngine(t, "https://app.example.com")
	const target = "http://pulse.test/v1/x"
	for _, tc := range []struct {
		name, method, site, origin string
		ok                         bool
	}{
		{"curl: neither header", http.MethodPost, "", "", true},
		{"same origin by Sec-Fetch-Site", http.MethodPost, "same-origin", "http://pulse.test", true},
		{"typed into the address bar", http.MethodPost, "none", "", true},
		{"cross-site, allowed origin", http.MethodPost, "cross-site", "https://app.example.com", true},
		{"cross-site, other origin", http.MethodPost, "cross-site", "https://evil.test", false},
		{"same-site is not same-origin", http.MethodPost, "same-site", "https://www.pulse.test", false},
		{"cross-site without Origin", http.MethodPost, "cross-site", "", false},
		{"old browser, same host", http.MethodPost, "", "http://pulse.test", true},
		{"old browser, allowed origin", http.MethodPost, "", "https://app.example.com", true},
		{"old browser, other origin", http.MethodPost, "", "https://evil.test", false},
		{"old browser, null origin", http.MethodPost, "", "null", false},
		{"GET is safe", http.MethodGet, "cross-site", "https://evil.test", true},
	} {
		var h []string
		if tc.site != "" {
			h = append(h, "Sec-Fetch-Site", tc.site)
		}
		if tc.origin != "" {
			h = append(h, "Origin", tc.origin)
		}
		w := serve(r, tc.method, target, h...)
		switch {
		case tc.ok && w.Code != http.StatusOK:
			t.Errorf("%s: %d %s, want 200", tc.name, w.Code, w.Body)
		case !tc.ok && (w.Code != http.StatusForbidden || errorCode(t, w) != "origin_not_allowed"):
			t.Errorf("%s: %d %s, want 403 origin_not_allowed", tc.name, w.Code, w.Body)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	r := edgeEngine(t, "https://app.example.com", "*.trusted.test")
	const target = "http://pulse.test/v1/x"
	preflight := func(origin string) *httptest.ResponseRecorder {
		return serve(r, http.MethodOptions, target, "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	}

	for _, origin := range []string{"https://app.example.com", "http://a.trusted.test"} {
		w := preflight(origin)
		h := w.Header()
		if w.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") ||
			h.Get("Access-Control-Max-Age") == "" {
			t.Errorf("preflight from %s: %d %v", origin, w.Code, h)
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight from %s allows credentials: keys travel in headers, never in cookies", origin)
		}
		w = serve(r, http.MethodPost, target, "Origin", origin, "Sec-Fetch-Site", "cross-site")
		if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Retry-After") {
			t.Errorf("POST from %s: %d %v", origin, w.Code, w.Header())
		}
	}

	w := preflight("https://evil.test")
	if w.Code != http.StatusForbidden || errorCode(t, w) != "origin_not_allowed" || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// A GET from another origin is answered, without CORS headers: the browser keeps it from
	// the page.
	w = serve(r, http.MethodGet, target, "Origin", "https://evil.test")
	if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from another origin: %d %v", w.Code, w.Header())
	}
	// Same origin and no origin are not CORS: no headers, and OPTIONS is no route.
	for _, h := range [][]string{{"Origin", "http://pulse.test"}, nil} {
		w = serve(r, http.MethodOptions, target, h...)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("OPTIONS with %v: %d %v", h, w.Code, w.Header())
		}
	}
}
