package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pulsehq/pulse/internal/events"
)

// format is how a body lays out its events.
type format uint8

const (
	formatJSON   format = iota + 1 // application/json: one object or an array of objects
	formatNDJSON                   // application/x-ndjson: one object per line
	formatObject                   // application/cloudevents+json, likes: exactly one object
	formatArray                    // application/cloudevents-batch+json: an array of objects
)

// maxDepth is encoding/json's nesting limit, kept so that both accept the same documents.
const maxDepth = 10000

// errTooMany: the body holds more items than allowed; decoding stops there.
var errTooMany = errors.New("too many events")

// syntaxError is a body that cannot be split into items.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// decode splits body into items appended to dst. It fails as a whole only when the body cannot
// be split (a JSON syntax error outside NDJSON, a top-level value of the wrong kind) or holds
// more than max items; an item that is not an event object, or an NDJSON line that is not
// JSON, becomes a rejected item instead.
//
// It is a hand-written scanner rather than encoding/json because it runs once per event on the
// hot path: field values are substrings of body (no copy unless a string has escapes), and it
// accepts exactly the documents encoding/json accepts (FuzzDecode holds it to that). Go's
// json/v2 token API does the same job 3.4–6× slower (BenchmarkDecoder in
// decode_jsontext_test.go: GOEXPERIMENT=jsonv2 go test -bench Decoder).
func decode(f format, body string, max int, dst []item) ([]item, error) {
	if f == formatNDJSON {
		return decodeLines(body, max, dst)
	}
	d := scanner{s: body}
	d.ws()
	if d.i == len(d.s) {
		return dst, nil
	}
	switch c := d.s[d.i]; {
	case c == '{' && f != formatArray:
		dst = append(dst, item{})
		if !d.event(&dst[len(dst)-1], 1) {
			return dst, d.error()
		}
	case c == '[' && f != formatObject:
		var err error
		if dst, err = d.array(max, dst); err != nil {
			return dst, err
		}
	default:
		return dst, &syntaxError{msg: wantTop[f]}
	}
	d.ws()
	if d.i != len(d.s) {
		d.fail("unexpected data after the top-level value")
		return dst, d.error()
	}
	return dst, nil
}

var wantTop = map[format]string{
	formatJSON:   "the body must be a JSON object or an array of objects",
	formatObject: "the body must be one JSON object",
	formatArray:  "the body must be a JSON array of objects",
}

func (d *scanner) array(max int, dst []item) ([]item, error) {
	d.i++ // '['
	d.ws()
	if d.peek() == ']' {
		d.i++
		return dst, nil
	}
	for {
		if len(dst) >= max {
			return dst, errTooMany
		}
		if d.peek() == '{' {
			dst = append(dst, item{})
			if !d.event(&dst[len(dst)-1], 2) {
				return dst, d.error()
			}
		} else {
			start := d.i
			if !d.value(1) {
				return dst, d.error()
			}
			dst = append(dst, item{raw: d.s[start:d.i], err: errNotObject})
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case ']':
			d.i++
			return dst, nil
		default:
			d.fail("expected ',' or ']' after an array element")
			return dst, d.error()
		}
	}
}

// decodeLines reads NDJSON: blank lines are skipped, and a line that is not JSON rejects only
// that line, since line breaks still delimit the items around it.
func decodeLines(body string, max int, dst []item) ([]item, error) {
	for rest := body; rest != ""; {
		line := rest
		if n := strings.IndexByte(rest, '\n'); n >= 0 {
			line, rest = rest[:n], rest[n+1:]
		} else {
			rest = ""
		}
		line = strings.Trim(line, " \t\r")
		if line == "" {
			continue
		}
		if len(dst) >= max {
			return dst, errTooMany
		}
		d := scanner{s: line}
		var it item
		ok := false
		if line[0] == '{' {
			ok = d.event(&it, 1)
		} else if ok = d.value(0); ok {
			it.err = errNotObject
		}
		if ok {
			d.ws()
			if d.i != len(line) {
				ok = d.fail("unexpected data after the event")
			}
		}
		if !ok {
			it = item{err: &events.Error{Kind: events.KindInvalid, Code: "malformed_event", Message: "line is not valid JSON: " + d.err.msg}}
		}
		it.raw = line
		dst = append(dst, it)
	}
	return dst, nil
}

var errNotObject = &events.Error{Kind: events.KindInvalid, Code: "invalid_event", Message: "an event must be a JSON object"}

// scanner walks one JSON text, validating it as it goes.
type scanner struct {
	s   string
	i   int
	err *syntaxError
}

func (d *scanner) fail(format string, args ...any) bool {
	if d.err == nil {
		msg := fmt.Sprintf(format, args...)
		if d.i >= len(d.s) {
			msg = "unexpected end of JSON input"
		}
		d.err = &syntaxError{msg: fmt.Sprintf("%s (offset %d)", msg, d.i)}
	}
	return false
}

// error is the scanner's syntax error, as an error value that is nil when there is none.
func (d *scanner) error() error {
	if d.err == nil {
		return nil
	}
	return d.err
}

func (d *scanner) peek() byte {
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

func (d *scanner) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// event reads an object at d.i into it. depth counts the containers open at the object itself.
func (d *scanner) event(it *item, depth int) bool {
	if depth > maxDepth {
		return d.fail("exceeded max depth")
	}
	start := d.i
	d.i++ // '{'
	d.ws()
	if d.peek() == '}' {
		d.i++
		it.raw = d.s[start:d.i]
		return true
	}
	for {
		if d.peek() != '"' {
			return d.fail("expected a string key")
		}
		kstart := d.i
		if !d.str() {
			return false
		}
		key := unquote(d.s[kstart:d.i])
		d.ws()
		if d.peek() != ':' {
			return d.fail("expected ':' after an object key")
		}
		d.i++
		d.ws()
		vstart := d.i
		if !d.value(depth) {
			return false
		}
		it.set(key, d.s[vstart:d.i])
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			it.raw = d.s[start:d.i]
			return true
		default:
			return d.fail("expected ',' or '}' after an object value")
		}
	}
}

// value skips one JSON value at d.i, inside depth open containers.
func (d *scanner) value(depth int) bool {
	switch c := d.peek(); {
	case c == '"':
		return d.str()
	case c == '{' || c == '[':
		return d.container(depth + 1)
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case d.i == len(d.s):
		return d.fail("unexpected end of JSON input")
	default:
		return d.fail("invalid character %q looking for a value", c)
	}
}

func (d *scanner) container(depth int) bool {
	if depth > maxDepth {
		return d.fail("exceeded max depth")
	}
	closer := byte(']')
	if d.s[d.i] == '{' {
		closer = '}'
	}
	d.i++
	d.ws()
	if d.peek() == closer {
		d.i++
		return true
	}
	for {
		if closer == '}' {
			if d.peek() != '"' {
				return d.fail("expected a string key")
			}
			if !d.str() {
				return false
			}
			d.ws()
			if d.peek() != ':' {
				return d.fail("expected ':' after an object key")
			}
			d.i++
			d.ws()
		}
		if !d.value(depth) {
			return false
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
			d.ws()
		case closer:
			d.i++
			return true
		default:
			return d.fail("expected ',' or %q", closer)
		}
	}
}

// str skips a string token, checking escapes and control characters as encoding/json does.
func (d *scanner) str() bool {
	i := d.i + 1
	for i < len(d.s) {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return true
		case c == '\\':
			if i+1 >= len(d.s) {
				d.i = i
				return d.fail("unexpected end of JSON input")
			}
			switch d.s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d.s) || !isHex4(d.s[i+2:i+6]) {
					d.i = i
					return d.fail("invalid \\u escape in string")
				}
				i += 6
			default:
				d.i = i
				return d.fail("invalid escape in string")
			}
		case c < 0x20:
			d.i = i
			return d.fail("control character in string")
		default:
			i++
		}
	}
	d.i = i
	return d.fail("unexpected end of JSON input")
}

func isHex4(s string) bool {
	for i := range 4 {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (d *scanner) number() bool {
	s, i := d.s, d.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		i = digits(s, i)
	default:
		d.i = i
		return d.fail("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		if j := digits(s, i+1); j > i+1 {
			i = j
		} else {
			d.i = i
			return d.fail("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if j := digits(s, i); j > i {
			i = j
		} else {
			d.i = i
			return d.fail("invalid number")
		}
	}
	d.i = i
	return true
}

func digits(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func (d *scanner) literal(lit string) bool {
	if !strings.HasPrefix(d.s[d.i:], lit) {
		return d.fail("invalid literal, expected %s", lit)
	}
	d.i += len(lit)
	return true
}

// unquote returns the value of a string token that str accepted. Plain ASCII without escapes,
// the common case, is a substring; anything else goes through encoding/json, which replaces
// invalid UTF-8 and lone surrogates with U+FFFD.
func unquote(tok string) string {
	for i := 1; i < len(tok)-1; i++ {
		if c := tok[i]; c == '\\' || c >= 0x80 {
			var s string
			_ = json.Unmarshal([]byte(tok), &s) // tok is a valid string token: it cannot fail
			return s
		}
	}
	return tok[1 : len(tok)-1]
}
