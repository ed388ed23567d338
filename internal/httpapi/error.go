// Package httpapi is Pulse's HTTP edge shared by every role: the one client-visible error type
// and its JSON body, request ids, recovery, access logs and API-key checks.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
)

// Error is the only error a client sees. Anything else reaching Abort is logged with the
// request id and answered as a generic 500.
type Error struct {
	Status     int
	Code       string
	Message    string
	Details    any
	RetryAfter time.Duration // sets Retry-After (503, 429)
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

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

// Errorf builds an Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadParam is the 400 for a query parameter that is missing or malformed.
func BadParam(name, format string, args ...any) *Error {
	e := Errorf(http.StatusBadRequest, "invalid_parameter", format, args...)
	e.Details = gin.H{"parameter": name}
	return e
}

// Unavailable is the 503 for a dependency that is down or overloaded; clients retry after.
func Unavailable(code, msg string, retry time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: code, Message: msg, RetryAfter: retry}
}

// Abort answers err and stops the handler chain.
func Abort(c *gin.Context, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case RedisUnavailable(err):
		slog.WarnContext(c.Request.Context(), "redis unavailable", "request_id", RequestID(c),
			"route", c.FullPath(), "err", err)
		e = Unavailable("redis_unavailable", "redis is unavailable; retry later", time.Second)
	default:
		slog.ErrorContext(c.Request.Context(), "internal error", "request_id", RequestID(c),
			"route", c.FullPath(), "err", err)
		e = Errorf(http.StatusInternalServerError, "internal", "internal error (request id %s)", RequestID(c))
	}
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	c.AbortWithStatusJSON(e.Status, Body{Error: BodyError{Code: e.Code, Message: e.Message, Details: e.Details}})
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
