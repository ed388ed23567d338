// Package search is Pulse's event search: one small Engine interface with two engines held to
// the same contract by one conformance suite (an embedded Bleve index, the default, and
// Meilisearch), and the HTTP API that serves /v1/search over them.
package search

import (
	"bytes"
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
	// Text is free text: a document matches when every word of Text occurs as a word of its
	// type, subject, data values (or stage and reason). Matching is exact and case-insensitive:
	// no stemming, no typo tolerance, no prefixes. Text without any letter or digit is ignored.
	Text    string
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
	Hits   []Doc
	Total  int64
	Facets map[string]map[string]int64
}

// hasWord reports whether s has a letter or digit, i.e. whether it is a text query at all.
func hasWord(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) >= 0
}

// Text is what free text searches: type, subject, every data value (not keys), stage and
// reason, separated by spaces. Both engines index this one string so that they agree on what
// a word matches.
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
	add(d.Type)
	add(d.Subject)
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
