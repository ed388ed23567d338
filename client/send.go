package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/oklog/ulid/v2"
)

// Body formats of Send.
type Format int

const (
	JSON   Format = iota // one object, or an array for a batch (application/json)
	NDJSON               // one object per line (application/x-ndjson)
)

// Send sends one event; see SendBatch.
func (c *Client) Send(ctx context.Context, e Event) (Result, error) {
	a, err := c.SendBatch(ctx, []Event{e}, JSON)
	if len(a.Results) == 1 {
		return a.Results[0], err
	}
	return Result{}, err
}

// SendBatch sends events in one request (an array, or NDJSON lines), and again until each
// is accepted, a duplicate or rejected. Events without an ID get a ULID first, in place, so
// every retry is deduplicated by the server: an event is stored once however often it is
// sent. Events the server failed (503: Redis unavailable, backlog full, unconfirmed) and whole
// requests without an answer are sent again after a backoff that honours Retry-After.
//
// The Answer holds one Result per event, in order. err is nil when every event has its final
// outcome (rejected ones included: see Answer.Rejected); otherwise it is the last failure, and
// the events still marked failed may or may not be stored: send them again, with their ids,
// within the server's dedupe window (1 h by default).
func (c *Client) SendBatch(ctx context.Context, events []Event, f Format) (Answer, error) {
	if len(events) == 0 {
		return Answer{Results: []Result{}}, nil
	}
	for i := range events {
		if events[i].ID == "" {
			events[i].ID = ulid.Make().String()
		}
	}
	final := Answer{Results: make([]Result, len(events))}
	todo := make([]int, len(events)) // indexes of events without a final outcome
	for i := range todo {
		todo[i] = i
	}
	err := c.retry(ctx, func() (bool, error) {
		batch := make([]Event, len(todo))
		for i, k := range todo {
			batch[i] = events[k]
		}
		a, err := c.post(ctx, batch, f)
		if a == nil { // no per-event answer: the request failed as a whole
			for _, k := range todo {
				final.Results[k] = Result{ID: events[k].ID, Status: StatusFailed, Error: itemError(err)}
			}
			return retryable(ctx, err), err
		}
		if len(a.Results) != len(batch) {
			return false, fmt.Errorf("pulse: %d results for %d events", len(a.Results), len(batch))
		}
		left := todo[:0]
		for i, k := range todo {
			r := a.Results[i]
			if r.ID == "" && r.Status != StatusRejected {
				r.ID = events[k].ID
			}
			final.Results[k] = r
			if r.Status == StatusFailed {
				left = append(left, k)
			}
		}
		todo = left
		if len(todo) == 0 {
			return false, nil
		}
		return ctx.Err() == nil, err
	})
	for _, r := range final.Results {
		switch r.Status {
		case StatusAccepted:
			final.Accepted++
		case StatusDuplicate:
			final.Duplicates++
		case StatusRejected:
			final.Rejected++
		default:
			final.Failed++
		}
	}
	if final.Failed == 0 {
		err = nil // every event has its outcome: rejected ones are reported, not an error
	}
	return final, err
}

// post sends one request of events. The Answer is nil when the server gave none per event
// (no answer at all, a malformed body, a batch too large...).
func (c *Client) post(ctx context.Context, events []Event, f Format) (*Answer, error) {
	var body []byte
	ct := "application/json"
	switch f {
	case NDJSON:
		ct = "application/x-ndjson"
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				return nil, err
			}
		}
		body = b.Bytes()
	default:
		var err error
		if body, err = json.Marshal(events); err != nil {
			return nil, err
		}
	}
	var a Answer
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/events", contentType: ct, body: body}, &a)
	if err == nil {
		return &a, nil
	}
	var e *Error
	if errors.As(err, &e) && len(e.Details) > 0 && json.Unmarshal(e.Details, &a) == nil && a.Results != nil {
		return &a, err
	}
	return nil, err
}

// itemError is the error of every event of a request that failed as a whole.
func itemError(err error) *ItemError {
	var e *Error
	if errors.As(err, &e) {
		return &ItemError{Code: e.Code, Message: e.Message}
	}
	return &ItemError{Code: "no_answer", Message: err.Error()}
}
