package ingest

import (
	"encoding/json"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/pulsehq/pulse/internal/events"
)

// status is the outcome of one input item.
type status uint8

const (
	pending   status = iota
	accepted         // appended to its partition stream
	duplicate        // its client id was already accepted within the dedupe horizon
	rejected         // invalid: the client must fix it
	failed           // valid, but Redis could not take it: the client may retry
)

var statusNames = [...]string{pending: "pending", accepted: "accepted", duplicate: "duplicate", rejected: "rejected", failed: "failed"}

// fields marks event fields that were present with a JSON type they cannot have.
type fields uint8

const (
	fieldID fields = 1 << iota
	fieldType
	fieldSubject
	fieldSource
	fieldSpecVersion
)

// item is one input event on its way through a request: decoded, validated, completed, then
// given its outcome by the writer.
type item struct {
	raw    string // the item's JSON text, for the failure stream
	ev     events.Event
	time   string // raw JSON of "time"; "" when absent or null
	idSet  bool   // "id" was a string, possibly empty
	wrong  fields
	typeOK bool // ev.Type passed validation (it may label metrics)

	part   int
	key    string // dedupe key; "" for server-assigned ids
	status status
	err    *events.Error // why the item was rejected or failed
}

// set assigns a top-level key of the event object; the last occurrence of a key wins, as with
// encoding/json. Unknown keys are ignored.
func (it *item) set(key, v string) {
	switch key {
	case "id":
		it.idSet = v[0] == '"'
		it.str(v, &it.ev.ID, fieldID)
	case "type":
		it.str(v, &it.ev.Type, fieldType)
	case "subject":
		it.str(v, &it.ev.Subject, fieldSubject)
	case "source":
		it.str(v, &it.ev.Source, fieldSource)
	case "specversion":
		it.str(v, &it.ev.SpecVersion, fieldSpecVersion)
	case "time":
		it.time = v
		if v == "null" {
			it.time = ""
		}
	case "data":
		it.ev.Data = nil
		if v != "null" {
			it.ev.Data = json.RawMessage(v)
		}
	}
}

func (it *item) str(v string, dst *string, f fields) {
	*dst = ""
	it.wrong &^= f
	switch {
	case v[0] == '"':
		*dst = unquote(v)
	case v != "null":
		it.wrong |= f
	}
}

// Errors of fields with the wrong JSON type; shared, never modified.
var (
	errIDType = &events.Error{Kind: events.KindInvalid, Code: "invalid_id", Field: "id",
		Message: "id must be a string of 1-128 characters of [A-Za-z0-9._:-]"}
	errTypeType        = &events.Error{Kind: events.KindInvalid, Code: "invalid_type", Field: "type", Message: "type must be a string"}
	errSubjectType     = &events.Error{Kind: events.KindInvalid, Code: "invalid_subject", Field: "subject", Message: "subject must be a string"}
	errSourceType      = &events.Error{Kind: events.KindInvalid, Code: "invalid_source", Field: "source", Message: "source must be a string"}
	errSpecVersionType = &events.Error{Kind: events.KindInvalid, Code: "invalid_specversion", Field: "specversion", Message: "specversion must be a string"}
)

// check validates the item received at recv and completes it for the writer: event time,
// receive time, id, partition and dedupe key. An invalid item ends rejected.
func (it *item) check(recv time.Time, cfg *Config) {
	if it.err == nil {
		it.err = it.validate(recv, cfg.MaxFuture)
	}
	if it.err != nil {
		it.status = rejected
		return
	}
	it.ev.Received = recv.UnixMilli()
	it.part = cfg.Layout.Partition(it.ev.Type, it.ev.Subject)
	if it.ev.ID == "" {
		it.ev.ID = ulid.Make().String() // unique by construction: no dedupe key needed
	} else {
		it.key = cfg.Layout.DedupeKey(it.part, it.ev.Type, it.ev.Subject, it.ev.ID)
	}
}

// validate returns the first rule the item breaks, in field order: id, type, subject, time,
// data, then the CloudEvents attributes.
func (it *item) validate(now time.Time, maxFuture time.Duration) *events.Error {
	switch {
	case it.wrong&fieldID != 0 || it.idSet && it.ev.ID == "":
		return errIDType
	case it.wrong&fieldType != 0:
		return errTypeType
	case it.wrong&fieldSubject != 0:
		return errSubjectType
	}
	t, timeErr := parseTime(it.time)
	if it.time == "" || timeErr != nil {
		t = now.UnixMilli()
	}
	it.ev.Time = t
	if err := it.ev.Validate(now, maxFuture); err != nil {
		it.typeOK = err.Field != "id" && err.Field != "type"
		return err
	}
	it.typeOK = true
	switch {
	case timeErr != nil:
		return timeErr
	case it.wrong&fieldSource != 0:
		return errSourceType
	case it.wrong&fieldSpecVersion != 0:
		return errSpecVersionType
	}
	return nil
}

// parseTime is events.ParseTime on a raw token, without copying string tokens.
func parseTime(tok string) (int64, *events.Error) {
	switch {
	case tok == "":
		return 0, nil
	case tok[0] == '"':
		return events.ParseTimeString(unquote(tok))
	default:
		return events.ParseTime(json.RawMessage(tok))
	}
}
