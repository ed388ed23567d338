package telemetry

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gin-gonic/gin"
)

// Every request is counted, but streams (WebSocket, Server-Sent Events) are not timed: their
// duration is how long the client stayed.
func TestMiddlewareTimesRequestsNotStreams(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	r := New()
	e := gin.New()
	e.Use(r.Middleware)
	e.GET("/plain", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	e.GET("/sse", func(c *gin.Context) {
		c.Header("Content-Type", "text/event-stream")
		c.String(http.StatusOK, "data: {}\n\n")
	})
	e.GET("/ws", func(c *gin.Context) { c.Status(http.StatusSwitchingProtocols) })
	for _, path := range []string{"/plain", "/sse", "/ws"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	for _, tc := range []struct {
		metric string
		routes []string
	}{
		{"pulse_http_requests_total", []string{"/plain", "/sse", "/ws"}},
		{"pulse_http_request_duration_seconds", []string{"/plain"}},
	} {
		if got := routes(t, r, tc.metric); !slices.Equal(got, tc.routes) {
			t.Errorf("%s has routes %v, want %v", tc.metric, got, tc.routes)
		}
	}
}

// routes lists the route labels of metric's series, sorted.
func routes(t *testing.T, r *Registry, metric string) []string {
	t.Helper()
	mfs, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out)
	return out
}
