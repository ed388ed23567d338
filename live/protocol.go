package live

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/pulsehq/pulse/internal/events"
)

// Client ops.
const (
	opSubscribe   = "subscribe"
	opUnsubscribe = "unsubscribe"
)

// request is one client frame:
//
//	{"op":"subscribe","id":"s1","type":"video_liked","subjects":["video-1"],"watch":true}
//	{"op":"subscribe","id":"s2","type":"video_liked","top":{"window":"1m","limit":10}}
//	{"op":"unsubscribe","id":"s1"}
type request struct {
	Op       string      `json:"op"`
	ID       string      `json:"id"`
	Type     string      `json:"type"`
	Subjects []string    `json:"subjects"`
	Top      *topRequest `json:"top"`
	Watch    bool        `json:"watch"` // count this connection as watching the subjects; frames carry "watching"
}

type topRequest struct {
	Window string `json:"window"`
	Limit  int    `json:"limit"`
}

// spec is a validated subscribe request.
type spec struct {
	id       string
	typ      string
	subjects []string // without repeats, in the client's order
	top      bool
	window   int // index into the windows
	limit    int
	watch    bool
}

// perr is the error of a bad client frame: an error frame on a WebSocket, a 400 over SSE.
func perr(code, format string, args ...any) *events.Error {
	return events.Errorf(events.KindInvalid, code, format, args...)
}

// parseSpec validates a subscribe request; the caps per connection are checked by the client.
func (h *Hub) parseSpec(r *request) (spec, *events.Error) {
	s := spec{id: r.ID, typ: r.Type, watch: r.Watch}
	if !events.ValidID(r.ID) {
		return s, perr("invalid_id", "id must be 1-%d characters of [A-Za-z0-9._:-]", events.MaxIDLen)
	}
	if err := events.ValidateType(r.Type); err != nil {
		return s, err
	}
	switch {
	case r.Top != nil && len(r.Subjects) > 0:
		return s, perr("invalid_subscription", "subscribe to subjects or to a top list, not both")
	case r.Top != nil && r.Watch:
		return s, perr("invalid_subscription", "watch applies to subjects, not to a top list")
	case r.Top != nil:
		s.top = true
		if s.window = events.FindWindow(h.cfg.Windows, r.Top.Window); s.window < 0 {
			return s, perr("invalid_window", "window %q is not one of %v", r.Top.Window, events.Names(h.cfg.Windows))
		}
		if s.limit = r.Top.Limit; s.limit < 1 || s.limit > h.cfg.MaxTopLimit {
			return s, perr("invalid_limit", "limit must be 1-%d", h.cfg.MaxTopLimit)
		}
	case len(r.Subjects) == 0:
		return s, perr("invalid_subscription", "subscribe needs subjects or top")
	default:
		if len(r.Subjects) > h.cfg.MaxSubjects {
			return s, perr("too_many_subjects", "at most %d subjects per connection", h.cfg.MaxSubjects)
		}
		s.subjects = make([]string, 0, len(r.Subjects))
		for _, sub := range r.Subjects {
			if err := events.ValidateSubject(sub); err != nil {
				return s, err
			}
			if !slices.Contains(s.subjects, sub) {
				s.subjects = append(s.subjects, sub)
			}
		}
	}
	return s, nil
}

// Frames are built by hand into reused buffers: they are the hot path of the fan-out. Strings
// that come from clients or Redis are quoted once with encoding/json and kept.

func quote(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

// windowKeys are the `,"1m":` fragments of a counts object, in window order.
func windowKeys(ws []events.Window) [][]byte {
	keys := make([][]byte, len(ws))
	for i, w := range ws {
		keys[i] = append(append([]byte{','}, quote(w.Name)...), ':')
	}
	return keys
}

func appendHeader(b []byte, op string, id []byte, seq, at int64) []byte {
	b = append(b, `{"op":"`...)
	b = append(b, op...)
	b = append(b, `","id":`...)
	b = append(b, id...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"at":`...)
	return strconv.AppendInt(b, at, 10)
}

// appendCount writes {"subject":"video-1","1m":3,"5m":9,"10m":12}, and "watching":2 when
// watching is not negative.
func appendCount(b []byte, keys [][]byte, subject []byte, counts []int64, watching int64) []byte {
	b = append(b, `{"subject":`...)
	b = append(b, subject...)
	for i, k := range keys {
		b = append(b, k...)
		b = strconv.AppendInt(b, counts[i], 10)
	}
	if watching >= 0 {
		b = append(b, `,"watching":`...)
		b = strconv.AppendInt(b, watching, 10)
	}
	return append(b, '}')
}

func appendError(b []byte, id string, e *events.Error) []byte {
	frame := struct {
		Op      string `json:"op"`
		ID      string `json:"id,omitempty"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"error", id, e.Code, e.Message}
	out, _ := json.Marshal(frame) // strings only: always marshals
	return append(b, out...)
}
