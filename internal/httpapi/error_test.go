package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
)

// Every kind of client-visible error has its status, and Abort answers it with the JSON body
// and Retry-After; errors that are not client errors are a 503 (Redis) or a 500.
func TestAbortStatusOfEachKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{events.Errorf(events.KindInternal, "internal", "x"), 500, "internal", ""},
		{events.Errorf(events.KindInvalid, "invalid_type", "x"), 400, "invalid_type", ""},
		{events.Errorf(events.KindUnauthorized, "unauthorized", "x"), 401, "unauthorized", ""},
		{events.Errorf(events.KindForbidden, "forbidden", "x"), 403, "forbidden", ""},
		{events.Errorf(events.KindNotFound, "not_found", "x"), 404, "not_found", ""},
		{events.Errorf(events.KindMethodNotAllowed, "method_not_allowed", "x"), 405, "method_not_allowed", ""},
		{events.Errorf(events.KindTimeout, "body_timeout", "x"), 408, "body_timeout", ""},
		{events.Errorf(events.KindTooLarge, "batch_too_large", "x"), 413, "batch_too_large", ""},
		{events.Errorf(events.KindUnsupported, "unsupported_media_type", "x"), 415, "unsupported_media_type", ""},
		{events.Errorf(events.KindUpgradeRequired, "upgrade_required", "x"), 426, "upgrade_required", ""},
		{&events.Error{Kind: events.KindTooMany, Code: "too_many_connections", RetryAfter: 5 * time.Second}, 429, "too_many_connections", "5"},
		{events.Unavailable("backlog_full", "x", 1500*time.Millisecond), 503, "backlog_full", "2"},
		{errors.New("a bug"), 500, "internal", ""},
		{&net503{}, 503, "redis_unavailable", "1"},
	}
	if kinds := len(statusOf); kinds != len(tests)-2 {
		t.Errorf("the status table has %d kinds, the test %d", kinds, len(tests)-2)
	}
	gin.SetMode(gin.ReleaseMode)
	for _, tt := range tests {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
		Abort(c, tt.err)
		var body Body
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != tt.status || body.Error.Code != tt.code || w.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("%v: %d %s Retry-After %q, want %d %s %q", tt.err, w.Code, body.Error.Code,
				w.Header().Get("Retry-After"), tt.status, tt.code, tt.retryAfter)
		}
	}
}

// net503 is a network error, as go-redis returns when Redis cannot be reached.
type net503 struct{}

func (*net503) Error() string   { return "dial tcp: connection refused" }
func (*net503) Timeout() bool   { return false }
func (*net503) Temporary() bool { return true }
