package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

const requestIDKey = "pulse.request_id"

// RequestID returns the request's id (X-Request-Id, or one made up on arrival).
func RequestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// Engine returns a gin engine with Pulse's edge behaviour: request ids, JSON for panics, 404s
// and 405s, and an access log.
func Engine(log *slog.Logger) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil)
	r.Use(requestID, accessLog(log), gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, rec any) {
		log.Error("panic", "request_id", RequestID(c), "route", c.FullPath(), "panic", rec)
		Abort(c, Errorf(http.StatusInternalServerError, "internal", "internal error (request id %s)", RequestID(c)))
	}))
	r.NoMethod(func(c *gin.Context) {
		Abort(c, Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed here", c.Request.Method))
	})
	return r
}

// NotFound answers an unknown API route.
func NotFound(c *gin.Context) {
	Abort(c, Errorf(http.StatusNotFound, "not_found", "no route %s %s", c.Request.Method, c.Request.URL.Path))
}

func requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if id == "" || len(id) > 64 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelWarn
		}
		log.Log(c.Request.Context(), level, "http", "method", c.Request.Method, "route", c.FullPath(),
			"status", status, "dur_ms", time.Since(start).Milliseconds(), "request_id", RequestID(c))
	}
}
