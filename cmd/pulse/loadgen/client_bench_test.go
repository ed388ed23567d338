package loadgen

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkPost compares the hand-written connection with net/http's client (a transport
// tuned for one host) posting to a bare 202 handler in the same process: the difference per
// request is the client's cost, which a load tool on the server's machine takes from it.
func BenchmarkPost(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"results":[{"status":"accepted"}]}`))
	}))
	defer srv.Close()
	body := []byte(`{"type":"video_liked","subject":"video-1"}`)
	b.Run("httpconn", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			hc, _ := newHTTPConn(srv.URL, "/v1/events", "")
			defer hc.close()
			var answer bytes.Buffer
			for pb.Next() {
				if st, err := hc.post(body, &answer); err != nil || st != http.StatusAccepted {
					b.Error(st, err)
					return
				}
			}
		})
	})
	b.Run("net/http", func(b *testing.B) {
		b.ReportAllocs()
		tr := &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		b.RunParallel(func(pb *testing.PB) {
			var answer bytes.Buffer
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/events", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				res, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				answer.Reset()
				_, _ = answer.ReadFrom(res.Body)
				res.Body.Close()
			}
		})
	})
}
