package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
)

// RequireJSON is route middleware for routes that read a body and change state: the request
// must say Content-Type: application/json (a UTF-8 charset parameter is fine), even with an
// empty body. A cross-site page can send a form or text/plain body without the browser asking
// the server first; declaring JSON needs a CORS preflight, which only allowed origins pass.
// Anything else, a missing Content-Type included, is 415.
func RequireJSON(c *gin.Context) {
	if err := CheckJSON(c.GetHeader("Content-Type")); err != nil {
		Abort(c, err)
	}
}

// CheckJSON is RequireJSON's test of one Content-Type value.
func CheckJSON(contentType string) *events.Error {
	if strings.TrimSpace(contentType) == "" {
		return events.Errorf(events.KindUnsupported, "unsupported_media_type",
			"a Content-Type is required: send application/json")
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return events.Errorf(events.KindUnsupported, "unsupported_media_type",
			"content type %q is not application/json", truncate(contentType, 100))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return events.Errorf(events.KindUnsupported, "unsupported_charset",
			"charset %q is not supported: send UTF-8", truncate(cs, 40))
	}
	return nil
}

// DecodeJSON reads exactly one JSON value from r into v, refusing unknown fields and anything
// but white space after the value: a body is one document, and a request that carries more
// was not made by a client that speaks this API. The error is the 400 invalid_body (or the 408
// of a body that did not arrive in time), with what to send in the message.
func DecodeJSON(r io.Reader, v any, want string) *events.Error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return nil
		} else if err == nil {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if e := BodyTimeout(err); e != nil {
		return e
	}
	if errors.Is(err, io.EOF) {
		err = errors.New("the body is empty")
	}
	return events.Errorf(events.KindInvalid, "invalid_body", "body must be %s: %v", want, err)
}
