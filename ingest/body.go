package ingest

import (
	"bytes"
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// formatOf maps a Content-Type to the body format. Parameters are tolerated; a charset other
// than UTF-8 (or its ASCII subset) is refused rather than misread, and so is a malformed
// parameter list (the charset could hide in it). A request without a Content-Type is refused:
// a cross-site page can post a body without one (or as text/plain) without the browser asking
// the server first, while the JSON types need a CORS preflight.
func formatOf(contentType string) (format, error) {
	if f, ok := commonTypes[contentType]; ok {
		return f, nil
	}
	return parseFormat(contentType)
}

// commonTypes are the exact Content-Types most clients send, parsed once:
// mime.ParseMediaType allocates a map per call (BenchmarkFormatOf: 10× the cost of a lookup).
var commonTypes = func() map[string]format {
	m := map[string]format{}
	for _, mt := range []string{"application/json", "application/x-ndjson", "application/cloudevents+json", "application/cloudevents-batch+json"} {
		for _, params := range []string{"", "; charset=utf-8", "; charset=UTF-8", ";charset=utf-8", ";charset=UTF-8"} {
			if f, err := parseFormat(mt + params); err == nil {
				m[mt+params] = f
			}
		}
	}
	return m
}()

func parseFormat(contentType string) (format, error) {
	const want = "one of application/json, application/x-ndjson, application/cloudevents+json, " +
		"application/cloudevents-batch+json"
	if contentType == "" {
		return 0, events.Errorf(events.KindUnsupported, "unsupported_media_type", "a Content-Type is required: "+want)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return 0, events.Errorf(events.KindUnsupported, "unsupported_media_type",
			"content type %q is malformed (%v): want %s", truncate(contentType, 100), err, want)
	}
	var f format
	switch mt { // lower case
	case "application/json":
		f = formatJSON
	case "application/x-ndjson":
		f = formatNDJSON
	case "application/cloudevents+json":
		f = formatObject
	case "application/cloudevents-batch+json":
		f = formatArray
	default:
		return 0, events.Errorf(events.KindUnsupported, "unsupported_media_type",
			"content type %q is not %s", truncate(mt, 100), want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return 0, events.Errorf(events.KindUnsupported, "unsupported_charset",
			"charset %q is not supported: send UTF-8", truncate(cs, 40))
	}
	return f, nil
}

var (
	bufPool  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzipPool sync.Pool // *gzip.Reader
)

// readBody returns the request body, decompressed, as one string: items are substrings of it.
// Bodies over max bytes (after decompression, so a small gzip bomb cannot expand past it) are
// refused with 413.
func readBody(r *http.Request, max int64) (string, error) {
	tooLarge := events.Errorf(events.KindTooLarge, "body_too_large", "the body is larger than %d bytes", max)
	if r.ContentLength > max {
		return "", tooLarge
	}
	var src io.Reader = r.Body
	switch enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); {
	case enc == "", strings.EqualFold(enc, "identity"):
	case strings.EqualFold(enc, "gzip"), strings.EqualFold(enc, "x-gzip"):
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r.Body)
		} else {
			err = zr.Reset(r.Body)
		}
		if e := httpapi.BodyTimeout(err); e != nil {
			return "", e
		}
		if err != nil {
			return "", badBody("the body is not valid gzip: " + err.Error())
		}
		defer gzipPool.Put(zr)
		src = zr
	default:
		return "", events.Errorf(events.KindUnsupported, "unsupported_encoding",
			"content encoding %q is not supported: send gzip or identity", truncate(enc, 40))
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 4<<20 {
			bufPool.Put(buf)
		}
	}()
	if r.ContentLength > 0 && src == r.Body {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(src, max+1))
	switch {
	case n > max:
		return "", tooLarge
	case httpapi.BodyTimeout(err) != nil:
		return "", httpapi.BodyTimeout(err)
	case err != nil:
		return "", badBody("the body could not be read: " + err.Error())
	}
	return buf.String(), nil
}

func badBody(msg string) *events.Error {
	return events.Errorf(events.KindInvalid, "malformed_body", "%s", msg)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
