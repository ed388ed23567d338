package ingest

import (
	"encoding/json"
	"strconv"

	"github.com/pulsehq/pulse/internal/events"
)

// answer is the body of every reply about a request's events: counts, then one result per
// input item in input order. It is the 200/202 body and the details of 400 and 503 errors.
//
//	{"accepted":1,"duplicates":0,"rejected":1,"results":[{"id":"e-1","status":"accepted"},
//	 {"status":"rejected","error":{"code":"invalid_type","message":"…","field":"type"}}]}
//
// "failed" (count and status) appears only when Redis could not take some events (503).
type answer struct {
	items                                  []item
	accepted, duplicates, rejected, failed int
}

func newAnswer(items []item) answer {
	a := answer{items: items}
	for i := range items {
		switch items[i].status {
		case accepted:
			a.accepted++
		case duplicate:
			a.duplicates++
		case rejected:
			a.rejected++
		default:
			a.failed++
		}
	}
	return a
}

// MarshalJSON lets the answer travel as an error's details.
func (a *answer) MarshalJSON() ([]byte, error) { return a.appendJSON(nil), nil }

// appendJSON writes the answer without reflection: it is on the hot path of every request.
func (a *answer) appendJSON(b []byte) []byte {
	b = append(b, `{"accepted":`...)
	b = strconv.AppendInt(b, int64(a.accepted), 10)
	b = append(b, `,"duplicates":`...)
	b = strconv.AppendInt(b, int64(a.duplicates), 10)
	b = append(b, `,"rejected":`...)
	b = strconv.AppendInt(b, int64(a.rejected), 10)
	if a.failed > 0 {
		b = append(b, `,"failed":`...)
		b = strconv.AppendInt(b, int64(a.failed), 10)
	}
	b = append(b, `,"results":[`...)
	for i := range a.items {
		it := &a.items[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		// Ids of settled items are valid; a rejected item's id is echoed only if it is one. A
		// server-assigned id is given out only for a stored event: it is not dedupe-protected,
		// so resending an unconfirmed event with it could count the event twice.
		if it.ev.ID != "" && (it.status != rejected || events.ValidID(it.ev.ID)) && (it.status != failed || it.key != "") {
			b = append(b, `"id":"`...)
			b = append(b, it.ev.ID...) // [A-Za-z0-9._:-]: nothing to escape
			b = append(b, `",`...)
		}
		b = append(b, `"status":"`...)
		b = append(b, statusNames[it.status]...)
		b = append(b, '"')
		if it.err != nil && it.status != accepted && it.status != duplicate {
			b = append(b, `,"error":{"code":`...)
			b = appendString(b, it.err.Code)
			b = append(b, `,"message":`...)
			b = appendString(b, it.err.Message)
			if it.err.Field != "" {
				b = append(b, `,"field":`...)
				b = appendString(b, it.err.Field)
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendString appends s as a JSON string; plain printable ASCII is copied as is.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
