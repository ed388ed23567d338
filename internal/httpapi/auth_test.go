package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// ?access_token= is for the endpoints a browser opens by URL only; elsewhere a key in the URL
// is ignored, as if none had been sent.
func TestKeysTokenInURL(t *testing.T) {
	t.Parallel()
	k := NewKeys([]string{"full"}, []string{"browser"})
	r := Engine(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ok := func(c *gin.Context) { c.Status(http.StatusNoContent) }
	r.GET("/v1/windows", k.Require(AccessBrowser), ok)
	r.GET("/v1/failures", k.Require(AccessFull), ok)
	r.GET("/v1/live", k.RequireStream(AccessBrowser), ok)
	for _, tc := range []struct {
		target string
		header string // X-API-Key
		status int
	}{
		{"/v1/windows?access_token=browser", "", http.StatusUnauthorized},
		{"/v1/windows?access_token=full", "", http.StatusUnauthorized},
		{"/v1/windows", "browser", http.StatusNoContent},
		{"/v1/failures?access_token=full", "", http.StatusUnauthorized},
		{"/v1/failures", "browser", http.StatusForbidden},
		{"/v1/failures", "full", http.StatusNoContent},
		{"/v1/live?access_token=browser", "", http.StatusNoContent},
		{"/v1/live?access_token=nope", "", http.StatusUnauthorized},
		{"/v1/live", "browser", http.StatusNoContent},
		{"/v1/live", "", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.target, nil)
		if tc.header != "" {
			req.Header.Set("X-API-Key", tc.header)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != tc.status {
			t.Errorf("%s (X-API-Key %q): %d, want %d", tc.target, tc.header, w.Code, tc.status)
		}
	}
}
