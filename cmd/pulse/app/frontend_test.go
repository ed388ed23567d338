package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pulsehq/pulse/internal/httpapi"
)

func TestSPA(t *testing.T) {
	t.Parallel()
	built := fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>app</title>")},
		"assets/app-1a2b.js": {Data: []byte("console.log(1)")},
		"favicon.svg":        {Data: []byte("<svg/>")},
	}
	tests := []struct {
		name, method, path string
		dist               fstest.MapFS
		status             int
		body, cache        string
	}{
		{"root", "GET", "/", built, 200, "<title>app</title>", "no-cache"},
		{"client route", "GET", "/search", built, 200, "<title>app</title>", "no-cache"},
		{"nested client route", "GET", "/pipeline/p3", built, 200, "<title>app</title>", "no-cache"},
		{"index by name", "GET", "/index.html", built, 200, "<title>app</title>", "no-cache"},
		{"hashed asset", "GET", "/assets/app-1a2b.js", built, 200, "console.log(1)", "immutable"},
		{"other file", "GET", "/favicon.svg", built, 200, "<svg/>", ""},
		{"missing asset", "GET", "/assets/app-old.js", built, 404, `"code":"not_found"`, ""},
		{"unknown api route", "GET", "/v1/nope", built, 404, `"code":"not_found"`, ""},
		{"api root", "GET", "/v1", built, 404, `"code":"not_found"`, ""},
		{"post elsewhere", "POST", "/search", built, 404, `"code":"not_found"`, ""},
		{"head", "HEAD", "/publish", built, 200, "", "no-cache"},
		{"not built", "GET", "/", fstest.MapFS{".gitkeep": {}}, 200, "npm run build", "no-cache"},
		{"not built route", "GET", "/search", fstest.MapFS{}, 200, "npm run build", "no-cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := httpapi.Engine(slog.New(slog.NewTextHandler(io.Discard, nil)))
			e.NoRoute(spa(tt.dist))
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body %q does not contain %q", rec.Body, tt.body)
			}
			if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, tt.cache) {
				t.Errorf("Cache-Control %q, want %q", got, tt.cache)
			}
			if tt.status == http.StatusNotFound && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("404 is %q, want JSON", rec.Header().Get("Content-Type"))
			}
		})
	}
}
