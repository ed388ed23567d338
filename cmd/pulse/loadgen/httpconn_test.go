package loadgen

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The hand-written client against Go's own server, in every framing an answer can have.
func TestHTTPConn(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10_000)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    string
		reuse   bool // the connection stays open for the next request
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusAccepted)
			w.Write(append([]byte("got "), b...))
		}, 202, "got {\"a\":1}", true},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(long[:5000]))
			w.(http.Flusher).Flush()
			w.Write([]byte(long[5000:]))
		}, 202, long, true},
		{"connection close", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":{}}`))
		}, 503, `{"error":{}}`, false},
		{"empty", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, 204, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var conns atomic.Int64
			srv := httptest.NewUnstartedServer(tt.handler)
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			hc, err := newHTTPConn(srv.URL, "/v1/events", "k")
			if err != nil {
				t.Fatal(err)
			}
			defer hc.close()
			var answer bytes.Buffer
			for i := range 3 {
				status, err := hc.post([]byte(`{"a":1}`), &answer)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if status != tt.status || answer.String() != tt.body {
					t.Fatalf("request %d: %d %q, want %d %q", i, status, answer.String()[:min(answer.Len(), 40)], tt.status, tt.body[:min(len(tt.body), 40)])
				}
			}
			want := int64(3)
			if tt.reuse {
				want = 1
			}
			if got := conns.Load(); got != want {
				t.Errorf("%d connections for 3 requests, want %d", got, want)
			}
		})
	}
}

func TestHTTPConnSendsHeaders(t *testing.T) {
	t.Parallel()
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	hc, err := newHTTPConn(srv.URL+"/base", "/v1/events", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer hc.close()
	if _, err := hc.post([]byte(`[]`), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/base/v1/events" ||
		got.Header.Get("Authorization") != "Bearer secret" || got.Header.Get("Content-Type") != "application/json" ||
		got.ContentLength != 2 {
		t.Errorf("server saw %s %s %v (length %d)", got.Method, got.URL.Path, got.Header, got.ContentLength)
	}
}

// A server that dies mid-answer is an error, and the next request dials again.
func TestHTTPConnBrokenAnswer(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			c, buf, _ := w.(http.Hijacker).Hijack()
			buf.WriteString("HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\nshort")
			buf.Flush()
			c.Close()
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	hc, err := newHTTPConn(srv.URL, "/v1/events", "")
	if err != nil {
		t.Fatal(err)
	}
	defer hc.close()
	if _, err := hc.post([]byte(`{}`), &bytes.Buffer{}); err == nil {
		t.Fatal("truncated answer: want an error")
	}
	if status, err := hc.post([]byte(`{}`), &bytes.Buffer{}); err != nil || status != 202 {
		t.Fatalf("after a broken connection: %d, %v; want a fresh 202", status, err)
	}
}
