// Package search is Pulse's event search: one small Engine interface with two engines held to
// the same contract by one conformance suite (an embedded Bleve index, the default, and
// Meilisearch), and the HTTP API that serves /v1/search over them.
package search

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// Engine is one search index. Implementations are safe for concurrent use.
type Engine interface {
	// Index upserts docs by ID (indexing the same ID again replaces the document). When it
	// returns nil the engine has durably taken every document. An error wrapping ErrRejected
	// means the engine refused the content; any other error is an outage worth retrying.
	Index(ctx context.Context, docs []Doc) error
	// Search answers q with exact totals and facet counts.
	Search(ctx context.Context, q Query) (*Result, error)
	// FacetValues lists the values of a facet field that start with prefix (case-insensitive),
	// the most frequent first, at most limit, with their document counts.
	FacetValues(ctx context.Context, field, prefix string, limit int) ([]FacetValue, error)
	// DeleteBefore deletes every document whose Time is before cutoff (unix ms).
	DeleteBefore(ctx context.Context, cutoff int64) error
	Close() error
}

// ErrRejected marks a batch the engine refused because of what it contains: retrying the same
// documents cannot help. The indexer splits such a batch to find the documents at fault.
var ErrRejected = errors.New("rejected by the search engine")

// Doc is one indexed document: an event, or a failure record (then Stage and Reason are set
// and Data holds {"stream", "entry_id", "record"}).
type Doc struct {
	// Key identifies the document in the engine (indexing the same Key again replaces it);
	// empty means ID. Events set it from (type, subject, id): clients may use one id for
	// events of several types and subjects, and each of them is a document of its own.
	Key      string          `json:"-"`
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Subject  string          `json:"subject"`
	Time     int64           `json:"time"`     // unix ms: event time, or when the failure was recorded
	Received int64           `json:"received"` // unix ms
	Data     json.RawMessage `json:"data,omitempty"`
	Stage    string          `json:"stage,omitempty"`
	Reason   string          `json:"reason,omitempty"`
}

// EngineKey is the document's identity in the engine: Key, or ID when Key is empty.
func (d *Doc) EngineKey() string {
	if d.Key != "" {
		return d.Key
	}
	return d.ID
}

// EventKey is the key of an event's document: events are distinct per (type, subject, id),
// as ingest's dedupe is. Hashed, because the three together may exceed what engines take
// as a document id (Meilisearch: 511 bytes of [A-Za-z0-9_-]).
func EventKey(typ, subject, id string) string {
	h := sha256.Sum256([]byte(typ + "\x00" + subject + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(h[:18])
}

// Query is one search. The zero value finds everything, newest first, no hits.
type Query struct {
	// Text is what people type: a document matches when every word of Text matches a word of
	// its id, type, subject or free text (data values, or stage and reason), case-insensitive,
	// no stemming. The last word, when Text ends with it, also matches as a prefix ("vid" finds
	// video-12: search as you type). Free text tolerates typos in words of 5 letters or more
	// (one; two from 9), never in ids, types, subjects or numbers, and never in the first
	// letter. Text without any letter or digit is ignored.
	Text    string
	ID      string   // exact, case-sensitive; empty = all
	Types   []string // any of; empty = all
	Subject string   // exact; empty = all
	Stages  []string // any of (failures); empty = all
	From    int64    // unix ms, inclusive; 0 = unbounded
	To      int64    // unix ms, inclusive; 0 = unbounded
	Asc     bool     // oldest first; newest first by default. Ties are ordered by EngineKey.
	Limit   int      // hits to return (0: only totals and facets)
	Offset  int
	Facets  []string // fields to count values of: FacetType, FacetStage
}

// Facet fields.
const (
	FacetType  = "type"
	FacetStage = "stage"
)

// MaxFacetValues is how many values a facet lists, the most frequent first.
const MaxFacetValues = 100

// Result answers a Query. Total and facet counts are exact.
type Result struct {
	Hits   []Hit
	Total  int64
	Facets map[string]map[string]int64
}

// Hit is a document that matched, with the words of it that matched Text.
type Hit struct {
	Doc
	// Highlights maps a field (HighlightID, HighlightType, HighlightSubject, HighlightText) to
	// its words that matched, lower-cased, each once, sorted. Nil when Text has no word.
	Highlights map[string][]string `json:"highlights,omitempty"`
}

// Highlight fields: the searchable parts of a document.
const (
	HighlightID      = "id"
	HighlightType    = "type"
	HighlightSubject = "subject"
	HighlightText    = "text" // data values, or a failure's stage and reason
)

// FacetValue is one value of a facet field and how many documents have it.
type FacetValue struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// sortFacetValues orders values the most frequent first (ties by value) and keeps limit.
func sortFacetValues(vs []FacetValue, limit int) []FacetValue {
	slices.SortFunc(vs, func(a, b FacetValue) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
	})
	return vs[:min(len(vs), limit)]
}

// addHighlight records that word matched in field, keeping each field's words sorted and once.
func (h *Hit) addHighlight(field, word string) {
	if h.Highlights == nil {
		h.Highlights = map[string][]string{}
	}
	words := h.Highlights[field]
	if i, found := slices.BinarySearch(words, word); !found {
		h.Highlights[field] = slices.Insert(words, i, word)
	}
}

// hasWord reports whether s has a letter or digit, i.e. whether it is a text query at all.
func hasWord(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) >= 0
}

// Text is the free text of a document: stage, reason and every data value (not keys),
// separated by spaces. Both engines index this one string, next to the id, type and subject,
// so that they agree on what a word matches and where typos are tolerated.
func (d *Doc) Text() string {
	var b strings.Builder
	add := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	add(d.Stage)
	add(d.Reason)
	if len(d.Data) > 0 {
		var v any
		dec := json.NewDecoder(bytes.NewReader(d.Data))
		dec.UseNumber() // keep numbers as written: 12345678901234567 stays searchable as such
		if dec.Decode(&v) == nil {
			values(v, add)
		}
	}
	return b.String()
}

// values calls add with every scalar in v, depth first.
func values(v any, add func(string)) {
	switch v := v.(type) {
	case string:
		add(v)
	case json.Number:
		add(v.String())
	case bool:
		if v {
			add("true")
		} else {
			add("false")
		}
	case []any:
		for _, e := range v {
			values(e, add)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) { // stable text for a stable document
			values(v[k], add)
		}
	}
}
