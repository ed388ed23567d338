package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
)

// bleveDoc is what Bleve indexes for a Doc; the mapping below names its fields.
type bleveDoc struct {
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Stage   string `json:"stage"`
	Time    int64  `json:"time"`
	SortKey string `json:"sk"`
	Text    string `json:"text"`
	Src     string `json:"src"`
}

// sortKey orders documents by time, then key, as one keyword with doc values. Sorting on
// Bleve's "_id" instead would load the stored id of every match, which dominated searches
// matching many documents. The time is 16 hex digits with the sign bit flipped, so that byte
// order is numeric order, negative times included.
func sortKey(t int64, id string) string {
	return fmt.Sprintf("%016x", uint64(t)^(1<<63)) + id
}

// OpenBleve opens the index at cfg.Path, creating it when missing.
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
	// bolt_timeout makes scorch's root.bolt flock give up instead of blocking forever.
	rt := map[string]any{"bolt_timeout": cfg.LockTimeout.String()}
	idx, err := bleve.OpenUsing(cfg.Path, rt)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
			return nil, fmt.Errorf("bleve: %w", err)
		}
		idx, err = bleve.NewUsing(cfg.Path, bleveMapping(), scorch.Name, scorch.Name, rt)
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s stayed locked for %s (only one indexer process may own the embedded index; run one, or use Meilisearch)",
			ErrLocked, cfg.Path, cfg.LockTimeout)
	case err != nil:
		return nil, fmt.Errorf("bleve open %s: %w", cfg.Path, err)
	}
	return &Bleve{idx: idx}, nil
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
	text := bleve.NewTextFieldMapping()
	text.Analyzer = bleveTextAnalyzer
	text.Store, text.IncludeInAll, text.IncludeTermVectors, text.DocValues = false, false, false, false
	text.SkipFreqNorm = true // never scored: results are sorted by time
	src := bleve.NewTextFieldMapping()
	src.Index, src.Store, src.IncludeInAll, src.IncludeTermVectors, src.DocValues = false, true, false, false, false

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt("type", keywordField(true))
	dm.AddFieldMappingsAt("subject", subject)
	dm.AddFieldMappingsAt("stage", keywordField(true))
	dm.AddFieldMappingsAt("time", timeField)
	dm.AddFieldMappingsAt("sk", keywordField(true))
	dm.AddFieldMappingsAt("text", text)
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
		bd := bleveDoc{Type: d.Type, Subject: d.Subject, Stage: d.Stage, Time: d.Time, SortKey: sortKey(d.Time, d.EngineKey()),
			Text: d.Text(), Src: string(src)}
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
	req := bleve.NewSearchRequestOptions(bleveQuery(q), q.Limit, q.Offset, false)
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
	out := &Result{Total: int64(res.Total), Hits: make([]Doc, 0, len(res.Hits)), Facets: map[string]map[string]int64{}}
	for _, h := range res.Hits {
		src, _ := h.Fields[bleveSrc].(string)
		var d Doc
		if err := json.Unmarshal([]byte(src), &d); err != nil {
			return nil, fmt.Errorf("bleve hit %q: %w", h.ID, err)
		}
		out.Hits = append(out.Hits, d)
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
	return out, nil
}

func bleveQuery(q Query) query.Query {
	var must []query.Query
	if hasWord(q.Text) {
		m := bleve.NewMatchQuery(q.Text)
		m.SetField("text")
		m.SetOperator(query.MatchQueryOperatorAnd)
		must = append(must, m)
	}
	if len(q.Types) > 0 {
		must = append(must, anyTerm("type", q.Types))
	}
	if q.Subject != "" {
		t := bleve.NewTermQuery(strings.ToLower(q.Subject))
		t.SetField("subject")
		must = append(must, t)
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
		r := bleve.NewNumericRangeInclusiveQuery(lo, hi, &inclusive, &inclusive)
		r.SetField("time")
		must = append(must, r)
	}
	if len(must) == 0 {
		return bleve.NewMatchAllQuery()
	}
	return bleve.NewConjunctionQuery(must...)
}

func anyTerm(field string, terms []string) query.Query {
	qs := make([]query.Query, len(terms))
	for i, s := range terms {
		t := bleve.NewTermQuery(s)
		t.SetField(field)
		qs[i] = t
	}
	return bleve.NewDisjunctionQuery(qs...)
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
