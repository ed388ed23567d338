package search

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"dario.cat/mergo"
	"github.com/meilisearch/meilisearch-go"
)

// MeiliConfig configures the Meilisearch engine. The zero value of a field means its default.
type MeiliConfig struct {
	URL   string
	Key   string
	Index string // index uid, e.g. "pulse-events"
	// MaxTotalHits is the index's pagination.maxTotalHits: totals are exact up to it
	// (Meilisearch's default of 1,000 would cap them).
	MaxTotalHits int64
	// TaskTimeout bounds the wait for one task (a batch, a settings update).
	TaskTimeout time.Duration
	// HTTPTimeout bounds one HTTP call.
	HTTPTimeout time.Duration
}

// DefaultMeiliConfig is the Meilisearch engine's defaults (URL and Index have none).
func DefaultMeiliConfig() MeiliConfig {
	return MeiliConfig{MaxTotalHits: 100_000_000, TaskTimeout: 2 * time.Minute, HTTPTimeout: 30 * time.Second}
}

// Meilisearch is the engine for deployments that run a Meilisearch server.
//
// Every write is a task that this engine waits for before returning, so one indexer keeps at
// most one task per index in Meilisearch's queue: the backlog cannot grow behind our back, and
// a nil error from Index means the task succeeded.
type Meilisearch struct {
	cfg MeiliConfig
	ms  meilisearch.ServiceManager
	idx meilisearch.IndexManager

	mu    sync.Mutex
	ready bool // index created and settings applied
}

var _ Engine = (*Meilisearch)(nil)

// meiliKey is the primary key: the event id in base64url, because Meilisearch document ids
// allow only [A-Za-z0-9_-] and event ids may contain '.' and ':'.
const meiliKey = "key"

// meiliDisplayed are the attributes a hit carries (not the key); text only for highlights:
// Meilisearch formats displayed attributes only.
var meiliDisplayed = []string{"id", "type", "subject", "time", "received", "data", "stage", "reason"}

// meiliSearchable are the attributes text queries search, as the embedded engine's word
// fields; typos only in text.
var meiliSearchable = []string{"id", "type", "subject", "text"}

// Highlight tags: control characters, which no word contains, so that what they enclose is
// never confused with the text.
const meiliPre, meiliPost = "\x02", "\x03"

// meiliDoc is a Doc as Meilisearch stores it.
type meiliDoc struct {
	Key      string `json:"key"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Subject  string `json:"subject"`
	Time     int64  `json:"time"`
	Received int64  `json:"received"`
	// Data is kept as JSON text: as an object, every distinct data key would become a field of
	// the index, and an index has at most 65,535 fields.
	Data   string `json:"data,omitempty"`
	Stage  string `json:"stage,omitempty"`
	Reason string `json:"reason,omitempty"`
	Text   string `json:"text"` // Doc.Text: the free text
	// Formatted is the hit's searchable attributes with its matches between meiliPre and
	// meiliPost.
	Formatted *struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Subject string `json:"subject"`
		Text    string `json:"text"`
	} `json:"_formatted,omitempty"`
}

// NewMeilisearch returns the engine. It does not call the server: the index and its settings
// are created before the first document or search, so a server that is down at start only
// delays indexing.
func NewMeilisearch(cfg MeiliConfig) (*Meilisearch, error) {
	if cfg.URL == "" || cfg.Index == "" {
		return nil, errors.New("meilisearch: URL and index are required")
	}
	if err := mergo.Merge(&cfg, DefaultMeiliConfig()); err != nil {
		return nil, err
	}
	if cfg.MaxTotalHits < 0 || cfg.TaskTimeout < 0 || cfg.HTTPTimeout < 0 {
		return nil, errors.New("meilisearch: max total hits and timeouts must not be negative")
	}
	opts := []meilisearch.Option{meilisearch.WithCustomClient(&http.Client{Timeout: cfg.HTTPTimeout})}
	if cfg.Key != "" {
		opts = append(opts, meilisearch.WithAPIKey(cfg.Key))
	}
	ms := meilisearch.New(cfg.URL, opts...)
	return &Meilisearch{cfg: cfg, ms: ms, idx: ms.Index(cfg.Index)}, nil
}

func (m *Meilisearch) settings() *meilisearch.Settings {
	prefix := "indexingTime" // the last word of a query is also a prefix: search as you type
	return &meilisearch.Settings{
		// sort first: results are ordered by time, not by relevance.
		RankingRules:         []string{"sort", "words", "typo", "proximity", "attribute", "exactness"},
		SearchableAttributes: meiliSearchable,
		DisplayedAttributes:  append(slices.Clone(meiliDisplayed), "text"),
		FilterableAttributes: []string{"id", "type", "subject", "stage", "time"},
		SortableAttributes:   []string{"time", "key"},
		// Typos in free text only: "video-12" must never find "video-13", nor an id a neighbour.
		TypoTolerance: &meilisearch.TypoTolerance{
			Enabled:             true,
			MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 5, TwoTypos: 9},
			DisableOnAttributes: []string{"id", "type", "subject"},
			DisableOnNumbers:    true,
		},
		Pagination: &meilisearch.Pagination{MaxTotalHits: m.cfg.MaxTotalHits},
		Faceting: &meilisearch.Faceting{
			MaxValuesPerFacet: MaxFacetValues,
			SortFacetValuesBy: map[string]meilisearch.SortFacetType{"*": meilisearch.SortFacetTypeCount},
		},
		PrefixSearch: &prefix,
	}
}

// ensure creates the index and applies its settings once, before anything else touches it:
// settings changed after documents would reindex everything.
func (m *Meilisearch) ensure(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ready {
		return nil
	}
	pk := meiliKey
	ti, err := m.ms.CreateIndexWithContext(ctx, &meilisearch.IndexConfig{Uid: m.cfg.Index, PrimaryKey: pk})
	if err != nil {
		return fmt.Errorf("meilisearch create index: %w", err)
	}
	if err := m.wait(ctx, ti.TaskUID, "index_already_exists"); err != nil {
		return fmt.Errorf("meilisearch create index: %w", err)
	}
	ti, err = m.idx.UpdateSettingsWithContext(ctx, m.settings())
	if err != nil {
		return fmt.Errorf("meilisearch settings: %w", err)
	}
	if err := m.wait(ctx, ti.TaskUID); err != nil {
		return fmt.Errorf("meilisearch settings: %w", err)
	}
	m.ready = true
	return nil
}

// taskError is a task that ended in another state than succeeded.
type taskError struct {
	UID           int64
	Status        meilisearch.TaskStatus
	Code, Type, M string
}

func (e *taskError) Error() string {
	return fmt.Sprintf("task %d %s: %s (%s)", e.UID, e.Status, e.M, e.Code)
}

// wait waits for a task and turns anything but success into an error; codes in ok count as
// success (e.g. index_already_exists).
func (m *Meilisearch) wait(ctx context.Context, uid int64, ok ...string) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.TaskTimeout)
	defer cancel()
	task, err := m.ms.WaitForTaskWithContext(ctx, uid, 50*time.Millisecond)
	if err != nil {
		return fmt.Errorf("wait for task %d: %w", uid, err)
	}
	if task.Status == meilisearch.TaskStatusSucceeded || slices.Contains(ok, task.Error.Code) {
		return nil
	}
	return &taskError{UID: uid, Status: task.Status, Code: task.Error.Code, Type: task.Error.Type, M: task.Error.Message}
}

// Index adds docs as one task (replacing documents with the same key) and waits for it.
func (m *Meilisearch) Index(ctx context.Context, docs []Doc) error {
	if err := m.ensure(ctx); err != nil {
		return err
	}
	md := make([]meiliDoc, len(docs))
	for i := range docs {
		d := &docs[i]
		md[i] = meiliDoc{
			Key: base64.RawURLEncoding.EncodeToString([]byte(d.EngineKey())), ID: d.ID,
			Type: d.Type, Subject: d.Subject, Time: d.Time, Received: d.Received,
			Data: string(d.Data), Stage: d.Stage, Reason: d.Reason, Text: d.Text(),
		}
	}
	pk := meiliKey
	ti, err := m.idx.AddDocumentsWithContext(ctx, md, &meilisearch.DocumentOptions{PrimaryKey: &pk})
	var me *meilisearch.Error
	if errors.As(err, &me) && me.StatusCode == http.StatusRequestEntityTooLarge {
		return fmt.Errorf("%w: %v", ErrRejected, err) // smaller halves will pass
	}
	if err != nil {
		return fmt.Errorf("meilisearch add documents: %w", err)
	}
	err = m.wait(ctx, ti.TaskUID)
	var te *taskError
	if errors.As(err, &te) && te.Type == "invalid_request" {
		// The task failed because of a document (invalid_document_*, max fields…); the
		// whole task is void, so the caller finds the culprit by splitting the batch.
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if err != nil {
		return fmt.Errorf("meilisearch add documents: %w", err)
	}
	return nil
}

// Search sends one multi-search of two queries: one in page mode for the exhaustive total and
// facets, one in offset mode for the hits at any offset.
func (m *Meilisearch) Search(ctx context.Context, q Query) (*Result, error) {
	if err := m.ensure(ctx); err != nil {
		return nil, err
	}
	var text string
	if hasWord(q.Text) {
		text = plainText(q.Text)
	}
	var filter any
	if f := meiliFilter(q); f != "" {
		filter = f
	}
	zero := int64(0)
	queries := []*meilisearch.SearchRequest{{
		IndexUID: m.cfg.Index, Query: text, Filter: filter, Facets: q.Facets,
		HitsPerPage: &zero, Page: 1, MatchingStrategy: meilisearch.All,
	}}
	if q.Limit > 0 {
		sort := []string{"time:desc", "key:desc"}
		if q.Asc {
			sort = []string{"time:asc", "key:asc"}
		}
		queries = append(queries, &meilisearch.SearchRequest{
			IndexUID: m.cfg.Index, Query: text, Filter: filter, Sort: sort,
			Offset: int64(q.Offset), Limit: int64(q.Limit), MatchingStrategy: meilisearch.All,
			AttributesToRetrieve: meiliDisplayed,
		})
	}
	if text != "" && q.Limit > 0 {
		hq := queries[1]
		hq.AttributesToRetrieve = append(slices.Clone(meiliDisplayed), "text")
		hq.AttributesToHighlight = meiliSearchable
		hq.HighlightPreTag, hq.HighlightPostTag = meiliPre, meiliPost
	}
	res, err := m.ms.MultiSearchWithContext(ctx, &meilisearch.MultiSearchRequest{Queries: queries})
	if err != nil {
		return nil, fmt.Errorf("meilisearch search: %w", err)
	}
	if len(res.Results) != len(queries) {
		return nil, fmt.Errorf("meilisearch search: %d results for %d queries", len(res.Results), len(queries))
	}
	counts := res.Results[0]
	out := &Result{Total: min(counts.TotalHits, m.cfg.MaxTotalHits), Hits: []Hit{}, Facets: map[string]map[string]int64{}}
	var facets map[string]map[string]int64
	if len(counts.FacetDistribution) > 0 {
		if err := json.Unmarshal(counts.FacetDistribution, &facets); err != nil {
			return nil, fmt.Errorf("meilisearch facets: %w", err)
		}
	}
	for _, f := range q.Facets {
		out.Facets[f] = facets[f]
		if out.Facets[f] == nil {
			out.Facets[f] = map[string]int64{}
		}
	}
	if q.Limit > 0 {
		for _, h := range res.Results[1].Hits {
			var md meiliDoc
			if err := h.DecodeInto(&md); err != nil {
				return nil, fmt.Errorf("meilisearch hit: %w", err)
			}
			h := Hit{Doc: Doc{ID: md.ID, Type: md.Type, Subject: md.Subject, Time: md.Time, Received: md.Received,
				Stage: md.Stage, Reason: md.Reason}}
			if md.Data != "" {
				h.Data = json.RawMessage(md.Data)
			}
			if f := md.Formatted; f != nil {
				for field, s := range map[string]string{HighlightID: f.ID, HighlightType: f.Type, HighlightSubject: f.Subject, HighlightText: f.Text} {
					for _, w := range markedWords(s) {
						h.addHighlight(field, w)
					}
				}
			}
			out.Hits = append(out.Hits, h)
		}
	}
	return out, nil
}

// markedWords returns the words of s that hold a highlight, whole and lower-cased: Meilisearch
// marks only the matched part of a word (the typed prefix), the embedded engine reports whole
// words.
func markedWords(s string) []string {
	var out []string
	for {
		i := strings.Index(s, meiliPre)
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], meiliPost)
		if j < 0 {
			return out
		}
		j += i
		start := i
		for start > 0 {
			r, n := utf8.DecodeLastRuneInString(s[:start])
			if !wordRune(r) {
				break
			}
			start -= n
		}
		rest := strings.ReplaceAll(s[j+len(meiliPost):], meiliPre, "")
		end := 0
		for end < len(rest) {
			r, n := utf8.DecodeRuneInString(rest[end:])
			if !wordRune(r) {
				break
			}
			end += n
		}
		out = append(out, strings.ToLower(s[start:i]+s[i+len(meiliPre):j]+rest[:end]))
		s = s[j+len(meiliPost):]
	}
}

// wordRune reports whether r belongs to a word as the embedded engine's tokenizer sees it in
// identifiers: letters, digits and '_'.
func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// plainText drops Meilisearch's query operators ("phrase", -negation) so that q means the
// same on both engines: every word must occur.
func plainText(s string) string {
	words := strings.Fields(strings.ReplaceAll(s, `"`, " "))
	for i, w := range words {
		words[i] = strings.TrimLeft(w, "-")
	}
	return strings.Join(words, " ")
}

// meiliFilter builds the filter expression; user values are always quoted and escaped.
func meiliFilter(q Query) string {
	var and []string
	in := func(field string, vals []string) {
		quoted := make([]string, len(vals))
		for i, v := range vals {
			quoted[i] = quote(v)
		}
		and = append(and, field+" IN ["+strings.Join(quoted, ", ")+"]")
	}
	if len(q.Types) > 0 {
		in("type", q.Types)
	}
	if q.ID != "" {
		and = append(and, "id = "+quote(q.ID))
	}
	if q.Subject != "" {
		and = append(and, "subject = "+quote(q.Subject))
	}
	if len(q.Stages) > 0 {
		in("stage", q.Stages)
	}
	if q.From != 0 {
		and = append(and, "time >= "+strconv.FormatInt(q.From, 10))
	}
	if q.To != 0 {
		and = append(and, "time <= "+strconv.FormatInt(q.To, 10))
	}
	return strings.Join(and, " AND ")
}

var filterEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func quote(s string) string { return `"` + filterEscaper.Replace(s) + `"` }

// FacetValues asks Meilisearch's facet search, then keeps the values that start with prefix:
// its facet search also matches inner words and typos, which the embedded engine does not.
func (m *Meilisearch) FacetValues(ctx context.Context, field, prefix string, limit int) ([]FacetValue, error) {
	if err := m.ensure(ctx); err != nil {
		return nil, err
	}
	raw, err := m.idx.FacetSearchWithContext(ctx, &meilisearch.FacetSearchRequest{FacetName: field, FacetQuery: prefix, ExhaustiveFacetCount: true})
	if err != nil {
		return nil, fmt.Errorf("meilisearch facet search: %w", err)
	}
	var res struct {
		FacetHits []FacetValue `json:"facetHits"`
	}
	if err := json.Unmarshal(*raw, &res); err != nil {
		return nil, fmt.Errorf("meilisearch facet search: %w", err)
	}
	out := []FacetValue{}
	for _, v := range res.FacetHits {
		if strings.HasPrefix(strings.ToLower(v.Value), strings.ToLower(prefix)) {
			out = append(out, v)
		}
	}
	return sortFacetValues(out, limit), nil
}

// DeleteBefore deletes by a filter on time (Meilisearch has no TTL) and waits for the task.
func (m *Meilisearch) DeleteBefore(ctx context.Context, cutoff int64) error {
	if err := m.ensure(ctx); err != nil {
		return err
	}
	ti, err := m.idx.DeleteDocumentsByFilterWithContext(ctx, "time < "+strconv.FormatInt(cutoff, 10), nil)
	if err != nil {
		return fmt.Errorf("meilisearch retention: %w", err)
	}
	if err := m.wait(ctx, ti.TaskUID); err != nil {
		return fmt.Errorf("meilisearch retention: %w", err)
	}
	return nil
}

// Close releases the HTTP client.
func (m *Meilisearch) Close() error {
	m.ms.Close()
	return nil
}
