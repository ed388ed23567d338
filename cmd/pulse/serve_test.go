package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// pulse health asks 127.0.0.1 on PULSE_ADDR's port, whatever host PULSE_ADDR names.
func TestHealth(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	tests := []struct {
		addr    string
		wantErr string
	}{
		{":" + port, ""},
		{"0.0.0.0:" + port, ""},
		{"localhost:" + port, ""},
		{"8080", "PULSE_ADDR"},
	}
	for _, tt := range tests {
		getenv := func(k string) string {
			if k == "PULSE_ADDR" {
				return tt.addr
			}
			return ""
		}
		err := health(context.Background(), nil, getenv, io.Discard)
		if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("PULSE_ADDR=%q: err %v, want %q", tt.addr, err, tt.wantErr)
		}
	}
}
