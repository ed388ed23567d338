package app

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// serveAdmin serves pprof on AdminAddr until ctx ends; a failure to listen is logged, not
// fatal: profiling is no reason to stop serving events. Profiles show a process's insides
// (heap contents, goroutine stacks) and can slow it down, so the address should be a loopback
// one; any other is served with a warning.
func (a *App) serveAdmin(ctx context.Context) {
	srv := &http.Server{Addr: a.cfg.AdminAddr, Handler: a.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
	defer context.AfterFunc(ctx, func() { _ = srv.Close() })()
	if !isLoopback(a.cfg.AdminAddr) {
		a.log.Warn("admin (pprof) address is not a loopback address: whoever reaches it can profile this process"+
			" (it needs a full API key when keys are configured)", "addr", a.cfg.AdminAddr)
	}
	if a.keys.Open() {
		a.log.Warn("admin (pprof) needs no key: no API keys are configured", "addr", a.cfg.AdminAddr)
	}
	a.log.Info("admin (pprof) listening", "addr", a.cfg.AdminAddr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("admin server", "err", err)
	}
}

// adminHandler is net/http/pprof without /debug/pprof/cmdline (the command line carries every
// flag, --api-keys included), behind a full API key whenever keys are configured.
func (a *App) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.Handle("/debug/pprof/cmdline", http.NotFoundHandler())
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch got := a.keys.Check(r, false); got {
		case httpapi.AccessFull:
			mux.ServeHTTP(w, r)
		case httpapi.AccessNone:
			w.Header().Set("WWW-Authenticate", `Bearer realm="pulse-admin"`)
			writeError(w, events.Errorf(events.KindUnauthorized, "unauthorized",
				"a full API key is required (Authorization: Bearer <key> or X-API-Key)"))
		default:
			writeError(w, events.Errorf(events.KindForbidden, "forbidden", "profiling needs a full API key"))
		}
	})
}

// writeError answers e with the API's error envelope outside gin.
func writeError(w http.ResponseWriter, e *events.Error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(httpapi.Status(e.Kind))
	_ = json.NewEncoder(w).Encode(httpapi.Body{Error: httpapi.BodyError{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// isLoopback reports whether a listen address binds to loopback only. ":6060" binds to every
// interface; a host name other than localhost may resolve to anything.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
