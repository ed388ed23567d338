package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event is one event to send (docs/ingest.md). Type and Subject are required. Send gives an
// event without ID a fresh one before its first attempt, so that every retry is deduplicated.
type Event struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Time    time.Time       `json:"-"` // zero: the server's receive time
	Data    json.RawMessage `json:"data,omitempty"`
}

// MarshalJSON writes Time as RFC 3339 (with milliseconds) when it is set.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	v := struct {
		plain
		Time string `json:"time,omitempty"`
	}{plain: plain(e)}
	if !e.Time.IsZero() {
		v.Time = e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return json.Marshal(v)
}

// Item statuses of an Answer.
const (
	StatusAccepted  = "accepted"  // stored: it will be counted once
	StatusDuplicate = "duplicate" // its (type, subject, id) was stored before
	StatusRejected  = "rejected"  // invalid: stored nowhere; fix it before sending again
	StatusFailed    = "failed"    // not stored, or not known to be (see Result.Error.Code)
)

// Answer is the server's answer about a request's events: counts, then one Result per event
// in the order sent. It is the body of 200 and 202, and the details of 400 and 503 errors.
type Answer struct {
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	Rejected   int      `json:"rejected"`
	Failed     int      `json:"failed,omitempty"`
	Results    []Result `json:"results"`
}

// Result is the outcome of one event.
type Result struct {
	ID     string     `json:"id,omitempty"`
	Status string     `json:"status"`
	Error  *ItemError `json:"error,omitempty"`
}

// ItemError says why one event was rejected or failed.
type ItemError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// Windows is the answer of GET /v1/windows: the exact counts of each subject in each window at
// At (unix ms, Redis clock).
type Windows struct {
	At      int64           `json:"at"`
	Windows []string        `json:"windows"` // window names, shortest first
	Counts  []SubjectCounts `json:"counts"`
}

// SubjectCounts are one subject's counts by window name. On the wire the windows are members
// of the object: {"type":"video_liked","subject":"v1","1m":3,"5m":9,"10m":12}. Type is empty
// in live frames (the subscription names it). Watching is the live "watching" member: the
// connections watching the subject, in frames of subscriptions that asked ("watch": true).
type SubjectCounts struct {
	Type     string
	Subject  string
	Counts   map[string]int64
	Watching *int64
}

// MarshalJSON writes type (when set), subject, then the windows in ascending length order of
// their names as the server does for the default windows; any order reads back the same.
func (s SubjectCounts) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if s.Type != "" {
		b.WriteString(`"type":`)
		t, _ := json.Marshal(s.Type)
		b.Write(t)
		b.WriteByte(',')
	}
	b.WriteString(`"subject":`)
	sub, err := json.Marshal(s.Subject)
	if err != nil {
		return nil, err
	}
	b.Write(sub)
	for _, name := range sortedWindows(s.Counts) {
		b.WriteByte(',')
		n, _ := json.Marshal(name)
		b.Write(n)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(s.Counts[name], 10))
	}
	if s.Watching != nil {
		b.WriteString(`,"watching":`)
		b.WriteString(strconv.FormatInt(*s.Watching, 10))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads every member other than type, subject and watching as a window's count.
func (s *SubjectCounts) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*s = SubjectCounts{Counts: make(map[string]int64, len(m))}
	for k, v := range m {
		var err error
		switch k {
		case "type":
			err = json.Unmarshal(v, &s.Type)
		case "subject":
			err = json.Unmarshal(v, &s.Subject)
		case "watching":
			s.Watching = new(int64)
			err = json.Unmarshal(v, s.Watching)
		default:
			var n int64
			err = json.Unmarshal(v, &n)
			s.Counts[k] = n
		}
		if err != nil {
			return fmt.Errorf("counts member %q: %w", k, err)
		}
	}
	return nil
}

// sortedWindows orders window names by their duration ("1m" < "5m" < "1h"); names that are
// not durations go last, by name.
func sortedWindows(counts map[string]int64) []string {
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	dur := func(s string) time.Duration {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 1<<63 - 1
		}
		return d
	}
	for i := 1; i < len(names); i++ { // a handful of windows: insertion sort
		for j := i; j > 0; j-- {
			a, b := names[j-1], names[j]
			if da, db := dur(a), dur(b); da < db || da == db && a <= b {
				break
			}
			names[j-1], names[j] = b, a
		}
	}
	return names
}

// Top is the answer of GET /v1/top: the subjects with the highest counts in Window.
type Top struct {
	At      int64   `json:"at"`
	Type    string  `json:"type"`
	Window  string  `json:"window"`
	Entries []Entry `json:"entries"`
}

// Entry is a leaderboard row.
type Entry struct {
	Subject string `json:"subject"`
	Count   int64  `json:"count"`
}

// Counts is the answer of GET /v1/counts: events of a type (and subject) over [From, To), in
// whole minutes, and with a step, the series.
type Counts struct {
	Type    string  `json:"type"`
	Subject *string `json:"subject"` // nil: every subject of the type
	From    int64   `json:"from"`
	To      int64   `json:"to"`
	Count   int64   `json:"count"`
	Series  []Point `json:"series,omitempty"`
	// Source says what answered: "history" (the per-minute history), "archive" (the range is
	// older than the history kept) or "both" (the range spans their boundary).
	Source string `json:"source"`
}

// Point is one step of a series: Count events in the step starting at T (unix ms).
type Point struct {
	T     int64 `json:"t"`
	Count int64 `json:"count"`
}

// SearchResult is the answer of GET /v1/search and /v1/search/failures.
type SearchResult struct {
	Hits   []Doc                       `json:"hits"`
	Total  int64                       `json:"total"`
	Facets map[string]map[string]int64 `json:"facets"`
	TookMS int64                       `json:"took_ms"`
}

// Doc is a search hit: an event, or a failure record (Stage and Reason set).
type Doc struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Time     int64           `json:"time"`     // unix ms
	Received int64           `json:"received"` // unix ms
	Data     json.RawMessage `json:"data,omitempty"`
	Stage    string          `json:"stage,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	// Highlights are the words that matched q, by field (id, type, subject, text), lower-cased.
	Highlights map[string][]string `json:"highlights,omitempty"`
}

// Failure is a dead letter (GET /v1/failures) or a rejected input (GET /v1/rejections).
type Failure struct {
	ID      string            `json:"id"` // what Replay takes
	Stage   string            `json:"stage"`
	Reason  string            `json:"reason"`
	At      int64             `json:"at"` // unix ms
	Stream  string            `json:"stream,omitempty"`
	EntryID string            `json:"entry_id,omitempty"`
	Record  map[string]string `json:"record"`
}

// ReplayResult is the answer of POST /v1/failures/replay.
type ReplayResult struct {
	Replayed []Replayed `json:"replayed"`
	Skipped  []Skipped  `json:"skipped"`
}

// Replayed is a failure record appended again to its stream (and removed from the store).
type Replayed struct {
	ID      string `json:"id"`
	Stream  string `json:"stream"`
	EntryID string `json:"entry_id"`
}

// Skipped is a failure record replay did not take, and why.
type Skipped struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Frame is one server frame of the live protocol (docs/live.md): a snapshot, an update, a
// leaderboard or an error.
type Frame struct {
	Op      string          `json:"op"` // snapshot, update, top, error
	ID      string          `json:"id,omitempty"`
	Seq     int64           `json:"seq,omitempty"`
	At      int64           `json:"at,omitempty"`
	Counts  []SubjectCounts `json:"counts,omitempty"`  // snapshot, update
	Window  string          `json:"window,omitempty"`  // top
	Entries []Entry         `json:"entries,omitempty"` // top
	Code    string          `json:"code,omitempty"`    // error
	Message string          `json:"message,omitempty"` // error
}
