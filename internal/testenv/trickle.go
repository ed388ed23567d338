package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Trickle sends a POST to path on the server at base (http://host:port) that announces a body
// of size bytes and sends one byte every interval, until the server answers (or safety
// passes: a bound on the test, never an assertion). It returns the answer, its body, and
// whether the server closed the connection after it. header is name, value pairs.
func Trickle(t testing.TB, base, path string, size int, interval, safety time.Duration, header ...string) (res *http.Response, body []byte, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(safety))
	req := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, size)
	for i := 0; i+1 < len(header); i += 2 {
		req += header[i] + ": " + header[i+1] + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for range size {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	br := bufio.NewReader(conn)
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("POST %s: no answer while the body trickles in: %v", path, err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	// A closed connection reads EOF (or a reset, if bytes were still arriving); only the safety
	// deadline means it stayed open.
	var ne net.Error
	_, err = br.ReadByte()
	closed = err != nil && !(errors.As(err, &ne) && ne.Timeout())
	return res, body, closed
}
