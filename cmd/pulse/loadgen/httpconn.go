package loadgen

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// httpConn is one keep-alive HTTP/1.1 connection owned by one sender worker, for the hot path
// (POST /v1/events). net/http's client hands every request to a write goroutine and every
// answer back from a read goroutine: a round trip to a bare 202 handler in the same process
// costs 72–78 µs with it against 42–46 µs with this (BenchmarkPost, quiet 2-core machine), so
// on a shared machine the tool would take the server's share; fasthttp's HostClient measured
// 53–55 µs in the same run. This writes each request with one syscall and parses the answer
// from a reused buffered reader: status line, headers, then a Content-Length or chunked body.
type httpConn struct {
	addr    string
	tls     *tls.Config // nil for http
	head    []byte      // request line and fixed headers, up to "Content-Length: "
	timeout time.Duration

	c   net.Conn
	br  *bufio.Reader
	req []byte // reused request buffer
}

func newHTTPConn(rawURL, path, apiKey string) (*httpConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	hc := &httpConn{addr: u.Host, timeout: 30 * time.Second}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		hc.addr = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		hc.tls = &tls.Config{ServerName: u.Hostname()}
	}
	hc.head = fmt.Appendf(nil, "POST %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: pulse-bench\r\nContent-Type: application/json\r\n",
		u.EscapedPath(), path, u.Host)
	if apiKey != "" {
		hc.head = fmt.Appendf(hc.head, "Authorization: Bearer %s\r\n", apiKey)
	}
	hc.head = append(hc.head, "Content-Length: "...)
	return hc, nil
}

// post sends body and reads the answer into answer. Any error closes the connection (the next
// post dials again); whether the server got the request is then unknown.
func (hc *httpConn) post(body []byte, answer *bytes.Buffer) (int, error) {
	status, keep, err := hc.roundTrip(body, answer)
	if err != nil || !keep {
		hc.close()
	}
	return status, err
}

func (hc *httpConn) roundTrip(body []byte, answer *bytes.Buffer) (status int, keep bool, err error) {
	if hc.c == nil {
		if err := hc.dial(); err != nil {
			return 0, false, err
		}
	}
	if err := hc.c.SetDeadline(time.Now().Add(hc.timeout)); err != nil {
		return 0, false, err
	}
	hc.req = append(hc.req[:0], hc.head...)
	hc.req = strconv.AppendInt(hc.req, int64(len(body)), 10)
	hc.req = append(hc.req, "\r\n\r\n"...)
	hc.req = append(hc.req, body...)
	if _, err := hc.c.Write(hc.req); err != nil {
		return 0, false, err
	}

	line, err := hc.br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, keep := int64(-1), false, true
	for {
		h, err := hc.br.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		if len(h) <= 2 { // the empty line ending the headers
			break
		}
		name, value, ok := bytes.Cut(bytes.TrimRight(h, "\r\n"), []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return status, false, fmt.Errorf("bad content-length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	answer.Reset()
	switch {
	case status == 204 || status == 304: // never a body
	case chunked:
		err = hc.readChunked(answer)
	case length >= 0:
		_, err = io.CopyN(answer, hc.br, length)
	default: // no length: the body ends with the connection
		_, err = answer.ReadFrom(hc.br)
		keep = false
	}
	return status, keep, err
}

func (hc *httpConn) readChunked(answer *bytes.Buffer) error {
	for {
		line, err := hc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeHex, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeHex)), 16, 64)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			// Trailers, then the empty line.
			for {
				t, err := hc.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(t) <= 2 {
					return nil
				}
			}
		}
		if _, err := io.CopyN(answer, hc.br, size); err != nil {
			return err
		}
		if _, err := hc.br.Discard(2); err != nil { // CRLF after the chunk
			return err
		}
	}
}

func (hc *httpConn) dial() error {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	c, err := d.Dial("tcp", hc.addr)
	if err != nil {
		return err
	}
	if hc.tls != nil {
		tc := tls.Client(c, hc.tls)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return err
		}
		c = tc
	}
	hc.c = c
	if hc.br == nil {
		hc.br = bufio.NewReaderSize(c, 16<<10)
	} else {
		hc.br.Reset(c)
	}
	return nil
}

func (hc *httpConn) close() {
	if hc.c != nil {
		_ = hc.c.Close()
		hc.c = nil
	}
}
