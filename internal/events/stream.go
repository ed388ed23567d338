package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Field names of a stream entry. Values are strings; times are decimal unix milliseconds.
const (
	FieldID          = "id"
	FieldType        = "type"
	FieldSubject     = "subject"
	FieldTime        = "time"
	FieldReceived    = "recv"
	FieldData        = "data"
	FieldSource      = "source"
	FieldSpecVersion = "specversion"
	FieldOrigin      = "origin"
)

// Values lays the event out as XADD field/value pairs, in a fixed order, omitting empty
// optional fields.
func (e *Event) Values() []string {
	v := make([]string, 0, 16)
	v = append(v,
		FieldID, e.ID,
		FieldType, e.Type,
		FieldSubject, e.Subject,
		FieldTime, strconv.FormatInt(e.Time, 10),
		FieldReceived, strconv.FormatInt(e.Received, 10),
	)
	if len(e.Data) > 0 {
		v = append(v, FieldData, string(e.Data))
	}
	if e.Source != "" {
		v = append(v, FieldSource, e.Source)
	}
	if e.SpecVersion != "" {
		v = append(v, FieldSpecVersion, e.SpecVersion)
	}
	if e.Origin != "" {
		v = append(v, FieldOrigin, e.Origin)
	}
	return v
}

// ErrMalformed marks a stream entry that can never be decoded: retrying cannot help.
var ErrMalformed = errors.New("malformed stream entry")

// FromValues decodes a stream entry as go-redis returns it (map of strings).
func FromValues(m map[string]any) (Event, error) {
	get := func(k string) string { s, _ := m[k].(string); return s }
	e := Event{
		ID:          get(FieldID),
		Type:        get(FieldType),
		Subject:     get(FieldSubject),
		Source:      get(FieldSource),
		SpecVersion: get(FieldSpecVersion),
		Origin:      get(FieldOrigin),
	}
	if d := get(FieldData); d != "" {
		e.Data = json.RawMessage(d)
	}
	var err error
	if e.Time, err = strconv.ParseInt(get(FieldTime), 10, 64); err != nil {
		return e, fmt.Errorf("%w: time %q", ErrMalformed, get(FieldTime))
	}
	if e.Received, err = strconv.ParseInt(get(FieldReceived), 10, 64); err != nil {
		return e, fmt.Errorf("%w: recv %q", ErrMalformed, get(FieldReceived))
	}
	if e.ID == "" || e.Type == "" || e.Subject == "" {
		return e, fmt.Errorf("%w: id, type and subject are required", ErrMalformed)
	}
	return e, nil
}

// IDMillis is the millisecond part of a stream entry id ("1700000000000-3"): the time Redis
// appended it. -1 if id is malformed.
func IDMillis(id string) int64 {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
