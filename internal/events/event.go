package events

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of the event format (shared/design.md, "Event").
const (
	MaxIDLen      = 128
	MaxSubjectLen = 128
	MaxDataBytes  = 32 << 10
)

var (
	idRe   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	typeRe = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
)

// Event is one accepted event. Times are unix milliseconds: the stream stores them so, and
// millisecond integers compare and hash without time zone surprises.
type Event struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Time     int64           `json:"time"`
	Received int64           `json:"received"`
	Data     json.RawMessage `json:"data,omitempty"`
	// CloudEvents attributes kept in the stored record.
	Source      string `json:"source,omitempty"`
	SpecVersion string `json:"specversion,omitempty"`
	// Origin is OriginArchive for an event re-appended from the archive (pulse replay): the
	// archiver, which holds it already, skips it. Never set by a client.
	Origin string `json:"-"`
}

// OriginArchive marks events replayed from the archive.
const OriginArchive = "archive"

// Error is the one error a client sees, from any stage: a validation failure of an event, a
// bad query, a refused live frame, a dependency that is down. Kind says what went wrong in
// terms the edge maps to an HTTP status (httpapi); Code is stable and machine-readable.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Field      string        // the event field at fault, for validation errors
	Details    any           // answered as the body's "details"
	RetryAfter time.Duration // when to try again, for KindUnavailable and KindTooMany
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Kind classifies an Error.
type Kind uint8

// The kinds of Error. The zero Kind is KindInternal: an Error nobody classified is a bug.
const (
	KindInternal         Kind = iota // a bug: the request id is in the answer and the log
	KindInvalid                      // the request breaks a rule: fix it before sending again
	KindUnauthorized                 // no valid credentials
	KindForbidden                    // credentials that may not do this, or an origin that may not
	KindNotFound                     // nothing there
	KindMethodNotAllowed             // not with this method
	KindTimeout                      // the request did not arrive in time
	KindTooLarge                     // the body or batch is over a limit
	KindUnsupported                  // a media type or charset that is not taken
	KindUpgradeRequired              // a WebSocket endpoint asked without the upgrade
	KindTooMany                      // this client holds too much: retry after RetryAfter
	KindUnavailable                  // a dependency is down or full: retry after RetryAfter
)

// Errorf builds an Error of kind.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable is the Error for a dependency that is down or overloaded.
func Unavailable(code, msg string, retry time.Duration) *Error {
	return &Error{Kind: KindUnavailable, Code: code, Message: msg, RetryAfter: retry}
}

func invalid(code, field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// DefaultMaxFuture is how far an event's time may lead its receive time unless a deployment
// says otherwise: ingest refuses such an event, and the counter treats one as poison.
const DefaultMaxFuture = 5 * time.Minute

// Validate checks every rule of the event table except the id (which may still be empty and
// assigned later). now is the receive time; maxFuture bounds how far event time may lead it.
func (e *Event) Validate(now time.Time, maxFuture time.Duration) *Error {
	if e.ID != "" && !ValidID(e.ID) {
		return invalid("invalid_id", "id", "id must be 1-%d characters of [A-Za-z0-9._:-]", MaxIDLen)
	}
	if err := ValidateType(e.Type); err != nil {
		return err
	}
	if err := ValidateSubject(e.Subject); err != nil {
		return err
	}
	if e.Time > now.Add(maxFuture).UnixMilli() {
		return invalid("time_in_future", "time", "time is more than %s after the server's clock", maxFuture)
	}
	if len(e.Data) > 0 {
		if len(e.Data) > MaxDataBytes {
			return invalid("data_too_large", "data", "data is %d bytes serialized, at most %d", len(e.Data), MaxDataBytes)
		}
		if e.Data[0] != '{' {
			return invalid("invalid_data", "data", "data must be a JSON object")
		}
	}
	return nil
}

// ValidID reports whether s may be used as an event id.
func ValidID(s string) bool { return idRe.MatchString(s) }

// ValidateType applies the event format's rules for a type: readers of counts check their
// parameters with it.
func ValidateType(s string) *Error {
	if s == "" {
		return invalid("missing_type", "type", "type is required")
	}
	if !typeRe.MatchString(s) {
		return invalid("invalid_type", "type", "type must match ^[a-z][a-z0-9_.-]{0,63}$, got %q", truncate(s, 80))
	}
	return nil
}

// ValidateSubject applies the event format's rules for a subject.
func ValidateSubject(s string) *Error {
	if s == "" {
		return invalid("missing_subject", "subject", "subject is required")
	}
	if !utf8.ValidString(s) {
		return invalid("invalid_subject", "subject", "subject must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxSubjectLen {
		return invalid("invalid_subject", "subject", "subject is %d characters, at most %d", n, MaxSubjectLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return invalid("invalid_subject", "subject", "subject must not contain control characters")
		}
	}
	return nil
}

// ParseTime reads an event time given as an RFC 3339 string or integer unix milliseconds.
// Integers before 2000-01-01 are refused: they are almost always seconds sent by mistake.
func ParseTime(raw json.RawMessage) (int64, *Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, invalid("invalid_time", "time", "time must be an RFC 3339 string or unix milliseconds")
		}
		return ParseTimeString(s)
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, invalid("invalid_time", "time", "time must be an RFC 3339 string or integer unix milliseconds")
	}
	if ms < minMillis {
		return 0, invalid("invalid_time", "time", "time %d is before 2000-01-01 in unix milliseconds (seconds sent by mistake?)", ms)
	}
	return ms, nil
}

// ParseTimeString is ParseTime for query parameters: RFC 3339, or unix milliseconds.
func ParseTimeString(s string) (int64, *Error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < minMillis {
			return 0, invalid("invalid_time", "time", "time %d is before 2000-01-01 in unix milliseconds", ms)
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, invalid("invalid_time", "time", "time %q is neither RFC 3339 nor unix milliseconds", truncate(s, 64))
	}
	return t.UnixMilli(), nil
}

var minMillis = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
