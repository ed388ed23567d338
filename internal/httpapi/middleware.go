package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
)

const (
	requestIDKey = "pulse.request_id"
	loggerKey    = "pulse.logger"
)

// RequestID returns the request's id (X-Request-Id, or one made up on arrival).
func RequestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// Logger is the logger of the Engine serving c: the app's, not the global one.
func Logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// Engine returns a gin engine with Pulse's edge behaviour: request ids, JSON for panics, 404s
// and 405s, and an access log.
func Engine(log *slog.Logger) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.ContextWithFallback = true
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil)
	r.Use(func(c *gin.Context) { c.Set(loggerKey, log) }, requestID, accessLog(log),
		gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, rec any) {
			log.Error("panic", "request_id", RequestID(c), "route", c.FullPath(), "panic", rec)
			Abort(c, events.Errorf(events.KindInternal, "internal", "internal error (request id %s)", RequestID(c)))
		}))
	r.NoMethod(func(c *gin.Context) {
		Abort(c, events.Errorf(events.KindMethodNotAllowed, "method_not_allowed", "%s is not allowed here", c.Request.Method))
	})
	return r
}

// NotFound answers an unknown API route.
func NotFound(c *gin.Context) {
	Abort(c, events.Errorf(events.KindNotFound, "not_found", "no route %s %s", c.Request.Method, c.Request.URL.Path))
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
