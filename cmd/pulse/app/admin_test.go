package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pulsehq/pulse/internal/httpapi"
)

// pprof shows a process's insides: with keys configured it needs a full key, and it never
// serves the command line, which carries --api-keys when keys are given as flags.
func TestAdminHandler(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	withKeys := (&App{log: log, keys: httpapi.NewKeys([]string{"full"}, []string{"browser"})}).adminHandler()
	open := (&App{log: log, keys: httpapi.NewKeys(nil, nil)}).adminHandler()
	for _, tc := range []struct {
		name   string
		h      http.Handler
		path   string
		key    string
		status int
	}{
		{"no key", withKeys, "/debug/pprof/", "", http.StatusUnauthorized},
		{"browser key", withKeys, "/debug/pprof/", "browser", http.StatusForbidden},
		{"key in the URL is not taken", withKeys, "/debug/pprof/?access_token=full", "", http.StatusUnauthorized},
		{"full key", withKeys, "/debug/pprof/", "full", http.StatusOK},
		{"a profile", withKeys, "/debug/pprof/goroutine?debug=1", "full", http.StatusOK},
		{"cmdline, full key", withKeys, "/debug/pprof/cmdline", "full", http.StatusNotFound},
		{"open: no key needed", open, "/debug/pprof/heap?debug=1", "", http.StatusOK},
		{"open: still no cmdline", open, "/debug/pprof/cmdline", "", http.StatusNotFound},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, req)
		if w.Code != tc.status {
			t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.path, w.Code, tc.status)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:6060": true,
		"[::1]:6060":     true,
		"localhost:6060": true,
		":6060":          false, // every interface
		"0.0.0.0:6060":   false,
		"10.0.0.5:6060":  false,
		"pulse:6060":     false,
		"6060":           false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
