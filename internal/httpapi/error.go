// Package httpapi is Pulse's HTTP edge shared by every role: the JSON body of the one
// client-visible error (events.Error) and the status of each kind, request ids, recovery,
// access logs and API-key checks.
package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
)

// Body is the JSON error envelope: {"error": {"code", "message", "details"}}.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the inside of Body.
type BodyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details"`
}

// statusOf maps each kind of client-visible error to its HTTP status: the one place where
// statuses are chosen. A kind without an entry would answer 0: the table test covers each.
var statusOf = [...]int{
	events.KindInternal:         http.StatusInternalServerError,
	events.KindInvalid:          http.StatusBadRequest,
	events.KindUnauthorized:     http.StatusUnauthorized,
	events.KindForbidden:        http.StatusForbidden,
	events.KindNotFound:         http.StatusNotFound,
	events.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	events.KindTimeout:          http.StatusRequestTimeout,
	events.KindTooLarge:         http.StatusRequestEntityTooLarge,
	events.KindUnsupported:      http.StatusUnsupportedMediaType,
	events.KindUpgradeRequired:  http.StatusUpgradeRequired,
	events.KindTooMany:          http.StatusTooManyRequests,
	events.KindUnavailable:      http.StatusServiceUnavailable,
}

// Status is the HTTP status of an error of kind k.
func Status(k events.Kind) int {
	if int(k) < len(statusOf) {
		return statusOf[k]
	}
	return http.StatusInternalServerError
}

// BadParam is the error for a query parameter that is missing or malformed.
func BadParam(name, format string, args ...any) *events.Error {
	e := events.Errorf(events.KindInvalid, "invalid_parameter", format, args...)
	e.Details = gin.H{"parameter": name}
	return e
}

// Abort answers err and stops the handler chain. An *events.Error is answered as it is;
// Redis being unreachable is a 503 to retry; anything else is a bug, logged with the request
// id and answered as a generic 500.
func Abort(c *gin.Context, err error) {
	var e *events.Error
	switch {
	case errors.As(err, &e) && e.Kind != events.KindInternal:
	case RedisUnavailable(err):
		Logger(c).WarnContext(c.Request.Context(), "redis unavailable", "request_id", RequestID(c),
			"route", c.FullPath(), "err", err)
		e = events.Unavailable("redis_unavailable", "redis is unavailable; retry later", time.Second)
	default:
		Logger(c).ErrorContext(c.Request.Context(), "internal error", "request_id", RequestID(c),
			"route", c.FullPath(), "err", err)
		e = events.Errorf(events.KindInternal, "internal", "internal error (request id %s)", RequestID(c))
	}
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	c.AbortWithStatusJSON(Status(e.Kind), Body{Error: BodyError{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// RedisUnavailable reports whether err says Redis cannot answer now (unreachable, timed out,
// loading, failing over, out of memory…), which is a 503 to retry, not a server bug.
func RedisUnavailable(err error) bool {
	var nerr net.Error
	switch {
	case errors.As(err, &nerr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed):
		return true
	}
	for _, prefix := range redisTransient {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}

// redisTransient are the error replies of a Redis that is busy or changing hands.
var redisTransient = []string{"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MOVED", "ASK", "OOM"}
