package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	uni "unicode"
	"unicode/utf8"

	"dario.cat/mergo"
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	berrors "go.etcd.io/bbolt/errors"
)

// BleveConfig configures the embedded engine. The zero value of a field means its default.
type BleveConfig struct {
	// Path is the index directory, created on first open.
	Path string
	// LockTimeout bounds the wait for the index lock. One process owns an embedded index: a
	// second opener would otherwise wait forever.
	LockTimeout time.Duration
}

// DefaultBleveConfig is the embedded engine's defaults (Path has none).
func DefaultBleveConfig() BleveConfig { return BleveConfig{LockTimeout: 5 * time.Second} }

// ErrLocked is returned by OpenBleve when another process holds the index.
var ErrLocked = errors.New("search index is locked by another process")

// Bleve is the embedded engine: a scorch index on local disk, the default when no
// Meilisearch is configured.
type Bleve struct {
	idx       bleve.Index
	closeOnce sync.Once
	closeErr  error
}

var _ Engine = (*Bleve)(nil)

// Field names inside the Bleve index.
const (
	bleveTextAnalyzer = "pulse_text" // unicode words, lower-cased: no stemming, no stop words
	bleveFoldAnalyzer = "pulse_fold" // the whole value, lower-cased: subjects match as Meilisearch's filters do
	bleveSrc          = "src"        // the Doc as JSON, stored only: hits are decoded from it
	bleveDeletePage   = 10_000
	// bleveMappingVersion names the mapping below; an index of another version is rebuilt
	// from its stored documents when opened (see rebuild).
	bleveMappingVersion = "2"
)

var bleveMappingKey = []byte("pulse_mapping_version")

// bleveWords are the word fields a text query searches, by highlight field. Only "text" takes
// typos: ids, types and subjects are identifiers.
var bleveWords = map[string]string{"w_id": HighlightID, "w_type": HighlightType, "w_subject": HighlightSubject, "text": HighlightText}

// bleveDoc is what Bleve indexes for a Doc; the mapping below names its fields.
type bleveDoc struct {
	ID       string `json:"idk"`
	Type     string `json:"type"`
	Subject  string `json:"subject"`
	Stage    string `json:"stage"`
	Time     int64  `json:"time"`
	SortKey  string `json:"sk"`
	WID      string `json:"w_id"`
	WType    string `json:"w_type"`
	WSubject string `json:"w_subject"`
	Text     string `json:"text"`
	Src      string `json:"src"`
}

// sortKey orders documents by time, then key, as one keyword with doc values. Sorting on
// Bleve's "_id" instead would load the stored id of every match, which dominated searches
// matching many documents. The time is 16 hex digits with the sign bit flipped, so that byte
// order is numeric order, negative times included.
func sortKey(t int64, id string) string {
	return fmt.Sprintf("%016x", uint64(t)^(1<<63)) + id
}

// OpenBleve opens the index at cfg.Path, creating it when missing, and rebuilding it when it
// was made with an older mapping.
func OpenBleve(cfg BleveConfig) (*Bleve, error) {
	if cfg.Path == "" {
		return nil, errors.New("bleve: no index path")
	}
	if err := mergo.Merge(&cfg, DefaultBleveConfig()); err != nil {
		return nil, err
	}
	if cfg.LockTimeout < 0 {
		return nil, errors.New("bleve: negative lock timeout")
	}
	idx, err := openBleve(cfg)
	if err != nil {
		return nil, err
	}
	v, err := idx.GetInternal(bleveMappingKey)
	if err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("bleve open %s: %w", cfg.Path, err)
	}
	if string(v) != bleveMappingVersion {
		if idx, err = rebuild(cfg, idx); err != nil {
			return nil, err
		}
	}
	return &Bleve{idx: idx}, nil
}

// openBleve opens or creates the index at cfg.Path; a new index is stamped with the mapping
// version.
func openBleve(cfg BleveConfig) (bleve.Index, error) {
	// bolt_timeout makes scorch's root.bolt flock give up instead of blocking forever.
	rt := map[string]any{"bolt_timeout": cfg.LockTimeout.String()}
	idx, err := bleve.OpenUsing(cfg.Path, rt)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
			return nil, fmt.Errorf("bleve: %w", err)
		}
		if idx, err = bleve.NewUsing(cfg.Path, bleveMapping(), scorch.Name, scorch.Name, rt); err == nil {
			err = idx.SetInternal(bleveMappingKey, []byte(bleveMappingVersion))
		}
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s stayed locked for %s (only one indexer process may own the embedded index; run one, or use Meilisearch)",
			ErrLocked, cfg.Path, cfg.LockTimeout)
	case err != nil:
		return nil, fmt.Errorf("bleve open %s: %w", cfg.Path, err)
	}
	return idx, nil
}

// rebuild copies every document of old, an index of another mapping version, into a new index
// with today's mapping, then puts it in old's place: a new version's searches (id lookup,
// highlights) then work on history too. Each document is re-derived from its stored source.
// A crash midway leaves old in place and the copy is started over.
func rebuild(cfg BleveConfig, old bleve.Index) (bleve.Index, error) {
	slog.Info("search index made by an older version: rebuilding it from its documents", "path", cfg.Path)
	tmp := cfg
	tmp.Path = cfg.Path + ".rebuild"
	if err := os.RemoveAll(tmp.Path); err != nil {
		_ = old.Close()
		return nil, fmt.Errorf("bleve rebuild: %w", err)
	}
	idx, err := openBleve(tmp)
	if err != nil {
		_ = old.Close()
		return nil, err
	}
	n, err := copyDocs(old, &Bleve{idx: idx})
	err = errors.Join(err, old.Close(), idx.Close())
	if err == nil {
		err = errors.Join(os.RemoveAll(cfg.Path), os.Rename(tmp.Path, cfg.Path))
	}
	if err != nil {
		return nil, fmt.Errorf("bleve rebuild %s: %w", cfg.Path, err)
	}
	slog.Info("search index rebuilt", "path", cfg.Path, "documents", n)
	return openBleve(cfg)
}

// copyDocs indexes every document of from into to, a page at a time in sort key order.
func copyDocs(from bleve.Index, to *Bleve) (int, error) {
	var after []string
	n := 0
	for {
		req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), bleveDeletePage, 0, false)
		req.Score = "none"
		req.SortByCustom(bsearch.SortOrder{&bsearch.SortField{Field: "sk", Type: bsearch.SortFieldAsString}})
		req.Fields = []string{bleveSrc, "sk"}
		req.SearchAfter = after
		res, err := from.Search(req)
		if err != nil {
			return n, err
		}
		if len(res.Hits) == 0 {
			return n, nil
		}
		docs := make([]Doc, len(res.Hits))
		for i, h := range res.Hits {
			src, _ := h.Fields[bleveSrc].(string)
			if err := json.Unmarshal([]byte(src), &docs[i]); err != nil {
				return n, fmt.Errorf("document %q: %w", h.ID, err)
			}
			docs[i].Key = h.ID
		}
		if err := to.Index(context.Background(), docs); err != nil {
			return n, err
		}
		n += len(docs)
		after = res.Hits[len(res.Hits)-1].Sort
	}
}

func bleveMapping() mapping.IndexMapping {
	im := bleve.NewIndexMapping()
	// The analyzer definition is valid by construction: the error can only be a duplicate name.
	_ = im.AddCustomAnalyzer(bleveTextAnalyzer, map[string]any{
		"type":          custom.Name,
		"tokenizer":     unicode.Name,
		"token_filters": []any{lowercase.Name},
	})
	_ = im.AddCustomAnalyzer(bleveFoldAnalyzer, map[string]any{
		"type":          custom.Name,
		"tokenizer":     single.Name,
		"token_filters": []any{lowercase.Name},
	})
	keywordField := func(docValues bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Store, f.IncludeInAll, f.IncludeTermVectors, f.DocValues = false, false, false, docValues
		return f
	}
	subject := keywordField(false)
	subject.Analyzer = bleveFoldAnalyzer
	// time is unix ms (exact in a float64 for any real date), for range queries only: sk sorts.
	timeField := bleve.NewNumericFieldMapping()
	timeField.Store, timeField.IncludeInAll, timeField.DocValues = false, false, false
	// Word fields keep term vectors: the positions of what matched are the highlights.
	words := bleve.NewTextFieldMapping()
	words.Analyzer = bleveTextAnalyzer
	words.Store, words.IncludeInAll, words.IncludeTermVectors, words.DocValues = false, false, true, false
	words.SkipFreqNorm = true // never scored: results are sorted by time
	src := bleve.NewTextFieldMapping()
	src.Index, src.Store, src.IncludeInAll, src.IncludeTermVectors, src.DocValues = false, true, false, false, false

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt("idk", keywordField(false))
	dm.AddFieldMappingsAt("type", keywordField(true))
	dm.AddFieldMappingsAt("subject", subject)
	dm.AddFieldMappingsAt("stage", keywordField(true))
	dm.AddFieldMappingsAt("time", timeField)
	dm.AddFieldMappingsAt("sk", keywordField(true))
	for f := range bleveWords {
		dm.AddFieldMappingsAt(f, words)
	}
	dm.AddFieldMappingsAt(bleveSrc, src)
	dm.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping()) // no catch-all field: text is ours
	im.DefaultMapping = dm
	im.DefaultAnalyzer = keyword.Name
	im.StoreDynamic, im.IndexDynamic, im.DocValuesDynamic = false, false, false
	return im
}

// Index writes docs in one batch. On an on-disk index Batch returns once scorch has persisted
// the segment, so a nil error means the documents survive a crash.
func (b *Bleve) Index(ctx context.Context, docs []Doc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	batch := b.idx.NewBatch()
	for i := range docs {
		d := &docs[i]
		src, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("%w: document %q: %v", ErrRejected, d.ID, err)
		}
		bd := bleveDoc{ID: d.ID, Type: d.Type, Subject: d.Subject, Stage: d.Stage, Time: d.Time, SortKey: sortKey(d.Time, d.EngineKey()),
			WID: d.ID, WType: d.Type, WSubject: d.Subject, Text: d.Text(), Src: string(src)}
		if err := batch.Index(d.EngineKey(), bd); err != nil {
			return fmt.Errorf("%w: document %q: %v", ErrRejected, d.ID, err)
		}
	}
	if err := b.idx.Batch(batch); err != nil {
		return fmt.Errorf("bleve batch: %w", err)
	}
	return nil
}

// Search runs q without scoring: hits are ordered by time, then by id.
func (b *Bleve) Search(ctx context.Context, q Query) (*Result, error) {
	text := b.textQuery(q.Text)
	req := bleve.NewSearchRequestOptions(bleveQuery(q, text), q.Limit, q.Offset, false)
	req.Score = "none"
	req.SortByCustom(bsearch.SortOrder{&bsearch.SortField{Field: "sk", Desc: !q.Asc, Type: bsearch.SortFieldAsString}})
	req.Fields = []string{bleveSrc}
	for _, f := range q.Facets {
		req.AddFacet(f, bleve.NewFacetRequest(f, MaxFacetValues))
	}
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("bleve search: %w", err)
	}
	out := &Result{Total: int64(res.Total), Hits: make([]Hit, 0, len(res.Hits)), Facets: map[string]map[string]int64{}}
	for _, h := range res.Hits {
		src, _ := h.Fields[bleveSrc].(string)
		var d Doc
		if err := json.Unmarshal([]byte(src), &d); err != nil {
			return nil, fmt.Errorf("bleve hit %q: %w", h.ID, err)
		}
		d.Key = h.ID
		out.Hits = append(out.Hits, Hit{Doc: d})
	}
	for _, f := range q.Facets {
		counts := map[string]int64{}
		if fr := res.Facets[f]; fr != nil && fr.Terms != nil {
			for _, t := range fr.Terms.Terms() {
				counts[t.Term] = int64(t.Count)
			}
		}
		out.Facets[f] = counts
	}
	if text != nil && len(out.Hits) > 0 {
		if err := b.highlight(ctx, text, out.Hits); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// highlight finds which words of hits matched text: the query again, restricted to the hits,
// with the locations of its matches (which the main query, sorted and unscored over every
// match, does not collect).
func (b *Bleve) highlight(ctx context.Context, text query.Query, hits []Hit) error {
	byKey := make(map[string]*Hit, len(hits))
	keys := make([]string, len(hits))
	for i := range hits {
		keys[i] = hits[i].Key
		byKey[keys[i]] = &hits[i]
	}
	req := bleve.NewSearchRequestOptions(bleve.NewConjunctionQuery(bleve.NewDocIDQuery(keys), text), len(hits), 0, false)
	req.IncludeLocations = true
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return fmt.Errorf("bleve highlights: %w", err)
	}
	for _, m := range res.Hits {
		h := byKey[m.ID]
		if h == nil {
			continue
		}
		for field, terms := range m.Locations {
			if hf, ok := bleveWords[field]; ok {
				for term := range terms {
					h.addHighlight(hf, term)
				}
			}
		}
	}
	return nil
}

// textQuery is the query for free text: every word must match a word field, the last one
// also as a prefix when the text ends with it, free text with typos. Nil when text has no word.
func (b *Bleve) textQuery(text string) query.Query {
	if !hasWord(text) {
		return nil
	}
	tokens := b.idx.Mapping().AnalyzerNamed(bleveTextAnalyzer).Analyze([]byte(text))
	var must []query.Query
	for i, tok := range tokens {
		word := string(tok.Term)
		var or []query.Query
		for f := range bleveWords {
			or = append(or, fieldQuery(bleve.NewTermQuery(word), f))
			if i == len(tokens)-1 && tok.End == len(text) {
				or = append(or, fieldQuery(bleve.NewPrefixQuery(word), f))
			}
		}
		if n := typos(word); n > 0 {
			fz := bleve.NewFuzzyQuery(word)
			fz.SetFuzziness(n)
			fz.SetPrefix(1) // a typo in the first letter counts double in Meilisearch: out of reach
			or = append(or, fieldQuery(fz, "text"))
		}
		must = append(must, bleve.NewDisjunctionQuery(or...))
	}
	if len(must) == 0 {
		return nil
	}
	return bleve.NewConjunctionQuery(must...)
}

// typos is how many typos a query word may have: one from 5 characters, two from 9
// (Meilisearch's defaults), none in numbers.
func typos(word string) int {
	if strings.IndexFunc(word, func(r rune) bool { return !uni.IsDigit(r) }) < 0 {
		return 0
	}
	switch n := utf8.RuneCountInString(word); {
	case n >= 9:
		return 2
	case n >= 5:
		return 1
	}
	return 0
}

// fieldQuery sets q's field and returns it.
func fieldQuery[Q interface {
	query.Query
	SetField(string)
}](q Q, field string) query.Query {
	q.SetField(field)
	return q
}

func bleveQuery(q Query, text query.Query) query.Query {
	var must []query.Query
	if text != nil {
		must = append(must, text)
	}
	if q.ID != "" {
		must = append(must, fieldQuery(bleve.NewTermQuery(q.ID), "idk"))
	}
	if len(q.Types) > 0 {
		must = append(must, anyTerm("type", q.Types))
	}
	if q.Subject != "" {
		must = append(must, fieldQuery(bleve.NewTermQuery(strings.ToLower(q.Subject)), "subject"))
	}
	if len(q.Stages) > 0 {
		must = append(must, anyTerm("stage", q.Stages))
	}
	if q.From != 0 || q.To != 0 {
		var lo, hi *float64
		if q.From != 0 {
			f := float64(q.From)
			lo = &f
		}
		if q.To != 0 {
			t := float64(q.To)
			hi = &t
		}
		inclusive := true
		must = append(must, fieldQuery(bleve.NewNumericRangeInclusiveQuery(lo, hi, &inclusive, &inclusive), "time"))
	}
	if len(must) == 0 {
		return bleve.NewMatchAllQuery()
	}
	return bleve.NewConjunctionQuery(must...)
}

func anyTerm(field string, terms []string) query.Query {
	qs := make([]query.Query, len(terms))
	for i, s := range terms {
		qs[i] = fieldQuery(bleve.NewTermQuery(s), field)
	}
	return bleve.NewDisjunctionQuery(qs...)
}

// FacetValues counts the values of field that start with prefix over every document.
func (b *Bleve) FacetValues(ctx context.Context, field, prefix string, limit int) ([]FacetValue, error) {
	req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), 0, 0, false)
	req.Score = "none"
	fr := bleve.NewFacetRequest(field, limit)
	if prefix != "" {
		fr.SetPrefixFilter(strings.ToLower(prefix)) // facet fields hold lower-case values (types, stages)
	}
	req.AddFacet(field, fr)
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("bleve facet values: %w", err)
	}
	out := []FacetValue{}
	if f := res.Facets[field]; f != nil && f.Terms != nil {
		for _, t := range f.Terms.Terms() {
			out = append(out, FacetValue{Value: t.Term, Count: int64(t.Count)})
		}
	}
	return sortFacetValues(out, limit), nil
}

// DeleteBefore deletes documents older than cutoff, a page at a time.
func (b *Bleve) DeleteBefore(ctx context.Context, cutoff int64) error {
	hi, exclusive := float64(cutoff), false
	r := bleve.NewNumericRangeInclusiveQuery(nil, &hi, nil, &exclusive)
	r.SetField("time")
	for {
		req := bleve.NewSearchRequestOptions(r, bleveDeletePage, 0, false)
		req.Score = "none"
		res, err := b.idx.SearchInContext(ctx, req)
		if err != nil {
			return fmt.Errorf("bleve retention search: %w", err)
		}
		if len(res.Hits) == 0 {
			return nil
		}
		batch := b.idx.NewBatch()
		for _, h := range res.Hits {
			batch.Delete(h.ID)
		}
		if err := b.idx.Batch(batch); err != nil {
			return fmt.Errorf("bleve retention delete: %w", err)
		}
	}
}

// Close releases the index and its lock. Calling it again is harmless (scorch panics on a
// second close).
func (b *Bleve) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.idx.Close() })
	return b.closeErr
}
