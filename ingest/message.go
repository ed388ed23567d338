package ingest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// Message is a body that came from a broker rather than an HTTP request (ingest/mqtt): it is
// decoded, validated, deduplicated and appended exactly as a request's body, and answered with
// the same receipt.
type Message struct {
	Body        string
	ContentType string // as over HTTP; "" means application/json
	// Type and Subject, when both are set, make Body the data of one event of theirs: a JSON
	// object (whose "id" and "time" are the event's too) or nothing. ID, when set, is that
	// event's id over the object's "id".
	Type, Subject, ID string
	// Derive, when set, gives the item at index i of the body that has no id its id. A broker
	// redelivers a message it is not sure was handled: ids derived from the message make the
	// redelivery a duplicate instead of a second count.
	Derive   func(i int) string
	Received time.Time
	Origin   map[string]string // recorded with a rejected item or body (topic, client…)
}

// Receipt is what a message got: the answer POST /v1/events gives the same body.
type Receipt struct {
	Status int    // the HTTP status of that answer
	Body   []byte // its JSON: the answer, or the error envelope with the answer as details
	// Final: every item has an outcome that retrying cannot change (accepted, duplicate, or
	// rejected and recorded in the failure stream). Otherwise the message must come again.
	Final                                  bool
	Accepted, Duplicates, Rejected, Failed int
}

// Take handles one message and returns its receipt. It waits for Redis's answer; a message
// whose receipt is not Final may be taken again as it is (its items' ids dedupe it).
func (in *Ingest) Take(ctx context.Context, m Message) Receipt {
	h := in.h
	recv := m.Received
	if recv.IsZero() {
		recv = time.Now()
	}
	j := h.getJob()
	defer h.putJob(j)
	items, err := h.decodeMessage(&m, j.items)
	j.items = items
	if err != nil {
		return h.refuse(j, &m, err)
	}
	for i := range j.items {
		if it := &j.items[i]; m.Derive != nil && it.ev.ID == "" && !it.idSet && it.wrong&fieldID == 0 {
			it.ev.ID = m.Derive(i)
		}
	}
	a, aerr := h.take(ctx, j, recv, m.Origin)
	r := Receipt{Status: http.StatusAccepted, Body: a.appendJSON(nil)}
	switch {
	case aerr != nil:
		r = errorReceipt(aerr, false)
	case a.accepted == 0:
		r.Status = http.StatusOK
	}
	r.Final = a.failed == 0 && j.recordErr == nil
	r.Accepted, r.Duplicates, r.Rejected, r.Failed = a.accepted, a.duplicates, a.rejected, a.failed
	return r
}

// Refuse records m, refused as a whole for err (a topic that maps to no event, say), in the
// failure stream and returns its receipt: Final once the record is stored.
func (in *Ingest) Refuse(m Message, err *events.Error) Receipt {
	j := in.h.getJob()
	defer in.h.putJob(j)
	return in.h.refuse(j, &m, err)
}

func (h *Handler) refuse(j *job, m *Message, err *events.Error) Receipt {
	if rerr := h.record(j, m.Body, err.Code+": "+err.Message, recordOf(m.Origin, "content_type", m.ContentType)); rerr != nil {
		return errorReceipt(events.Unavailable(errRedisDown.Code, errRedisDown.Message, h.cfg.RetryAfter), false)
	}
	return errorReceipt(err, true)
}

// decodeMessage splits m's body into items appended to dst, or says why the message is
// refused as a whole (as a request would be: 400, 413 or 415).
func (h *Handler) decodeMessage(m *Message, dst []item) ([]item, *events.Error) {
	if int64(len(m.Body)) > h.cfg.MaxBody {
		return dst, events.Errorf(events.KindTooLarge, "body_too_large", "the body is larger than %d bytes", h.cfg.MaxBody)
	}
	f, max := formatObject, 1
	if m.Type == "" || m.Subject == "" {
		var err error
		if f, err = formatOf(cmp.Or(m.ContentType, "application/json")); err != nil {
			var e *events.Error
			errors.As(err, &e)
			return dst, e
		}
		max = h.cfg.MaxBatch
	}
	dst, err := decode(f, m.Body, max, dst)
	var se *syntaxError
	switch {
	case errors.Is(err, errTooMany):
		return dst, events.Errorf(events.KindTooLarge, "batch_too_large", "the batch holds more than %d events", h.cfg.MaxBatch)
	case errors.As(err, &se):
		return dst, badBody(se.msg)
	case m.Type != "" && m.Subject != "":
		if len(dst) == 0 {
			dst = append(dst, item{})
		}
		it := &dst[0]
		it.wrong &^= fieldType | fieldSubject | fieldSource | fieldSpecVersion
		it.ev.Type, it.ev.Subject, it.ev.Source, it.ev.SpecVersion = m.Type, m.Subject, "", ""
		it.ev.Data = nil
		if m.Body != "" {
			it.ev.Data = json.RawMessage(m.Body)
		}
		if m.ID != "" {
			it.ev.ID, it.idSet, it.wrong = m.ID, true, it.wrong&^fieldID
		}
	case len(dst) == 0:
		return dst, events.Errorf(events.KindInvalid, "empty_body", "the body holds no events")
	}
	return dst, nil
}

// errorReceipt is the receipt of a message refused as a whole.
func errorReceipt(e *events.Error, final bool) Receipt {
	b, _ := json.Marshal(httpapi.Body{Error: httpapi.BodyError{Code: e.Code, Message: e.Message, Details: e.Details}})
	return Receipt{Status: httpapi.Status(e.Kind), Body: b, Final: final}
}
