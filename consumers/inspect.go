package consumers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"dario.cat/mergo"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// InspectorConfig configures an Inspector. A zero field means its default
// (DefaultInspectorConfig).
type InspectorConfig struct {
	Layout events.Layout
	// Every is how often the running totals are sampled for the rates.
	Every time.Duration
	// Keep is how many samples the rates span.
	Keep int
	// Logger receives sampling and read errors.
	Logger *slog.Logger
}

// DefaultInspectorConfig is an Inspector's defaults: rates over ten minutes, sampled every 5 s.
func DefaultInspectorConfig() InspectorConfig {
	return InspectorConfig{Layout: events.DefaultLayout(), Every: 5 * time.Second, Keep: 121}
}

// Inspector reports the partition streams and their consumer groups to operators
// (GET /v1/pipeline, docs/frontend.md): per partition stream, its length and how far each
// group is behind; the failure count; and ingest/apply rates that it samples itself, since
// Redis keeps only running totals.
type Inspector struct {
	rdb redis.UniversalClient
	cfg InspectorConfig

	mu      sync.Mutex
	samples []pipelineSample // oldest first, at most cfg.Keep
}

// NewInspector checks cfg and fills in its defaults.
func NewInspector(rdb redis.UniversalClient, cfg InspectorConfig) (*Inspector, error) {
	if rdb == nil {
		return nil, errors.New("inspector: nil redis client")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if err := mergo.Merge(&cfg, DefaultInspectorConfig()); err != nil {
		return nil, err
	}
	if err := cfg.Layout.Check(); err != nil {
		return nil, fmt.Errorf("inspector: %w", err)
	}
	if cfg.Every < 0 || cfg.Keep < 2 {
		return nil, fmt.Errorf("inspector: every %s, keep %d: want every > 0, keep at least 2", cfg.Every, cfg.Keep)
	}
	return &Inspector{rdb: rdb, cfg: cfg}, nil
}

// pipelineSample holds running totals over all partitions at one instant.
type pipelineSample struct {
	at    int64 // unix ms, Redis clock
	added int64 // entries ever appended (XINFO STREAM entries-added)
	// acked per group: entries read minus pending, i.e. applied (or dead-lettered) for good;
	// -1 when Redis cannot tell the lag of some partition.
	acked [len(groupNames)]int64
	mqtt  int64 // MQTT messages received, over every intake's running total
}

// PipelineView is the body of GET /v1/pipeline.
type PipelineView struct {
	At         int64                `json:"at"`
	Partitions []PartitionView      `json:"partitions"`
	Groups     map[string]GroupView `json:"groups"` // over all partitions
	Length     int64                `json:"length"` // entries held in all partition streams
	Failures   int64                `json:"failures"`
	// SearchLagMS is the indexer group's OldestMS: how long the oldest event not yet in the
	// search index has waited. 0 when search is caught up.
	SearchLagMS int64    `json:"search_lag_ms"`
	Rates       RateView `json:"rates"`
	// Archive is the archive's size as an archiver last listed it; null when no archiver has.
	Archive *archive.Stats `json:"archive"`
	// MQTT is each MQTT client's intake as its process last wrote it (within the last hour),
	// by client id; Connected is false for one not heard from for intakeStale.
	MQTT []events.Intake `json:"mqtt"`
}

// intakeStale: an MQTT intake that has not written its totals for this long (it writes them
// every 5 s) is shown disconnected; after intakeGone, it is not shown.
const (
	intakeStale = 30 * time.Second
	intakeGone  = time.Hour
)

// PartitionView is one partition stream.
type PartitionView struct {
	Partition int                  `json:"partition"`
	Stream    string               `json:"stream"`
	Length    int64                `json:"length"`
	Added     int64                `json:"added"` // entries ever appended
	Groups    map[string]GroupView `json:"groups"`
}

// GroupView is one consumer group on one partition, or summed over all of them.
type GroupView struct {
	Lag       *int64 `json:"lag"`       // entries not yet delivered; null when Redis cannot tell
	Pending   int64  `json:"pending"`   // delivered, not yet acked
	Consumers int64  `json:"consumers"` // in the totals: the most on any partition
	OldestMS  int64  `json:"oldest_ms"` // age of the oldest entry not yet acked; 0 when caught up
}

// RateView is events per second between consecutive samples, oldest first.
type RateView struct {
	IntervalMS int64       `json:"interval_ms"`
	Series     []RatePoint `json:"series"`
}

// RatePoint is the rates over the interval that ends at T. A group's rate is null when it
// cannot be known (lag unknown, or the totals went backwards because Redis was emptied).
type RatePoint struct {
	T        int64    `json:"t"`
	Ingest   *float64 `json:"ingest"`
	Counter  *float64 `json:"counter"`
	Indexer  *float64 `json:"indexer"`
	Archiver *float64 `json:"archiver"`
	MQTT     *float64 `json:"mqtt"` // messages received from the broker
}

// Mount adds GET /pipeline to r.
func (p *Inspector) Mount(r gin.IRoutes) { r.GET("/pipeline", p.handle) }

func (p *Inspector) handle(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	v, err := p.Pipeline(ctx)
	if err != nil {
		// The error may name Redis's address: it goes to the log, the client gets the gist.
		p.cfg.Logger.WarnContext(ctx, "pipeline: read failed", "request_id", httpapi.RequestID(c), "err", err)
		httpapi.Abort(c, events.Unavailable("redis_unavailable", "cannot read the pipeline from redis", time.Second))
		return
	}
	c.JSON(http.StatusOK, v)
}

// Run samples the running totals every p.cfg.Every until ctx ends. A failed sample (Redis down)
// leaves a gap in the rates; it never stops the process.
func (p *Inspector) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		if err := p.sample(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Debug("pipeline sample", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *Inspector) sample(ctx context.Context) error {
	st, err := p.read(ctx)
	if err != nil {
		return err
	}
	s := pipelineSample{at: st.now.UnixMilli()}
	for _, in := range st.intakes {
		s.mqtt += in.Messages
	}
	for _, ps := range st.parts {
		s.added += ps.info.EntriesAdded
	}
	for i, name := range groupNames {
		for _, ps := range st.parts {
			g, ok := ps.groups[name]
			lag := Lag(ps.info.LastGeneratedID, g)
			if !ok || lag < 0 {
				s.acked[i] = -1
				break
			}
			s.acked[i] += ps.info.EntriesAdded - lag - g.Pending
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples = append(p.samples, s)
	if len(p.samples) > p.cfg.Keep {
		p.samples = append(p.samples[:0], p.samples[len(p.samples)-p.cfg.Keep:]...)
	}
	return nil
}

// rates turns the ring of totals into per-second rates.
func (p *Inspector) rates() RateView {
	p.mu.Lock()
	defer p.mu.Unlock()
	rv := RateView{IntervalMS: p.cfg.Every.Milliseconds(), Series: []RatePoint{}}
	for i := 1; i < len(p.samples); i++ {
		prev, cur := p.samples[i-1], p.samples[i]
		dt := float64(cur.at-prev.at) / 1000
		if dt <= 0 {
			continue
		}
		rate := func(a, b int64) *float64 {
			if a < 0 || b < a {
				return nil
			}
			r := float64(b-a) / dt
			return &r
		}
		rv.Series = append(rv.Series, RatePoint{
			T:        cur.at,
			Ingest:   rate(prev.added, cur.added),
			Counter:  rate(prev.acked[0], cur.acked[0]),
			Indexer:  rate(prev.acked[1], cur.acked[1]),
			Archiver: rate(prev.acked[2], cur.acked[2]),
			MQTT:     rate(prev.mqtt, cur.mqtt),
		})
	}
	return rv
}

// partState is what one round of reads learned about one partition.
type partState struct {
	info   redis.XInfoStream
	groups map[string]redis.XInfoGroup
}

type pipelineState struct {
	now      time.Time
	failures int64
	parts    []partState
	intakes  []events.Intake // by client id
}

// read gets the clock, the failure count and every partition's stream and group info in one
// pipeline. A stream that does not exist yet reads as empty.
func (p *Inspector) read(ctx context.Context) (pipelineState, error) {
	var (
		timeCmd   *redis.TimeCmd
		failedCmd *redis.IntCmd
		intakeCmd *redis.MapStringStringCmd
		infoCmds  = make([]*redis.XInfoStreamCmd, p.cfg.Layout.Partitions)
		groupCmds = make([]*redis.XInfoGroupsCmd, p.cfg.Layout.Partitions)
	)
	_, err := p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		timeCmd = pipe.Time(ctx)
		failedCmd = pipe.XLen(ctx, events.FailedStream)
		intakeCmd = pipe.HGetAll(ctx, events.IntakeKey)
		for i := range p.cfg.Layout.Partitions {
			infoCmds[i] = pipe.XInfoStream(ctx, p.cfg.Layout.Stream(i))
			groupCmds[i] = pipe.XInfoGroups(ctx, p.cfg.Layout.Stream(i))
		}
		return nil
	})
	if err != nil && !noSuchKey(err) {
		return pipelineState{}, fmt.Errorf("read streams: %w", err)
	}
	st := pipelineState{now: timeCmd.Val(), failures: failedCmd.Val(), parts: make([]partState, p.cfg.Layout.Partitions)}
	for _, v := range intakeCmd.Val() {
		var in events.Intake
		if json.Unmarshal([]byte(v), &in) == nil {
			st.intakes = append(st.intakes, in)
		}
	}
	slices.SortFunc(st.intakes, func(a, b events.Intake) int { return strings.Compare(a.Client, b.Client) })
	for i := range p.cfg.Layout.Partitions {
		info, err := infoCmds[i].Result()
		if err != nil && !noSuchKey(err) {
			return pipelineState{}, fmt.Errorf("xinfo stream %d: %w", i, err)
		}
		groups, err := groupCmds[i].Result()
		if err != nil && !noSuchKey(err) {
			return pipelineState{}, fmt.Errorf("xinfo groups %d: %w", i, err)
		}
		ps := partState{groups: make(map[string]redis.XInfoGroup, len(groups))}
		if info != nil {
			ps.info = *info
		}
		for _, g := range groups {
			ps.groups[g.Name] = g
		}
		st.parts[i] = ps
	}
	return st, nil
}

// Pipeline is the whole view: a fresh read plus, per group and partition, the age of the oldest
// entry not yet acked (the lower of the oldest pending entry and the first undelivered one).
func (p *Inspector) Pipeline(ctx context.Context) (PipelineView, error) {
	st, err := p.read(ctx)
	if err != nil {
		return PipelineView{}, err
	}
	type ageCmds struct {
		pending *redis.XPendingCmd
		next    *redis.XMessageSliceCmd
	}
	ages := make([][len(groupNames)]ageCmds, p.cfg.Layout.Partitions)
	_, err = p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, ps := range st.parts {
			for j, name := range groupNames {
				g, ok := ps.groups[name]
				if !ok {
					continue
				}
				ages[i][j].pending = pipe.XPending(ctx, p.cfg.Layout.Stream(i), name)
				ages[i][j].next = pipe.XRangeN(ctx, p.cfg.Layout.Stream(i), "("+g.LastDeliveredID, "+", 1)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return PipelineView{}, fmt.Errorf("read group ages: %w", err)
	}

	now := st.now.UnixMilli()
	v := PipelineView{
		At:         now,
		Partitions: make([]PartitionView, p.cfg.Layout.Partitions),
		Groups:     map[string]GroupView{},
		Failures:   st.failures,
		Rates:      p.rates(),
		MQTT:       []events.Intake{},
	}
	for _, in := range st.intakes {
		switch age := time.Duration(now-in.At) * time.Millisecond; {
		case age > intakeGone:
			continue
		case age > intakeStale:
			in.Connected = false
		}
		v.MQTT = append(v.MQTT, in)
	}
	for i, ps := range st.parts {
		pv := PartitionView{
			Partition: i, Stream: p.cfg.Layout.Stream(i),
			Length: ps.info.Length, Added: ps.info.EntriesAdded,
			Groups: map[string]GroupView{},
		}
		v.Length += ps.info.Length
		for j, name := range groupNames {
			g, ok := ps.groups[name]
			if !ok {
				continue
			}
			gv := GroupView{Pending: g.Pending, Consumers: g.Consumers}
			if lag := Lag(ps.info.LastGeneratedID, g); lag >= 0 {
				gv.Lag = &lag
			}
			oldest := int64(-1)
			if pe, err := ages[i][j].pending.Result(); err == nil && pe.Count > 0 {
				oldest = events.IDMillis(pe.Lower)
			}
			if next, err := ages[i][j].next.Result(); err == nil && len(next) > 0 {
				if ms := events.IDMillis(next[0].ID); oldest < 0 || ms < oldest {
					oldest = ms
				}
			}
			if oldest >= 0 && oldest < now {
				gv.OldestMS = now - oldest
			}
			pv.Groups[name] = gv
			v.Groups[name] = addGroup(v.Groups[name], gv, i == 0)
		}
		v.Partitions[i] = pv
	}
	v.SearchLagMS = v.Groups[events.GroupIndexer].OldestMS
	if st, ok, err := archive.ReadStats(ctx, p.rdb); err != nil {
		return PipelineView{}, err
	} else if ok {
		v.Archive = &st
	}
	return v, nil
}

// addGroup folds one partition's group into the totals: lag and pending add up (lag is unknown
// if any partition's is), age and consumers take the largest.
func addGroup(sum, g GroupView, first bool) GroupView {
	switch {
	case first:
		if g.Lag != nil {
			l := *g.Lag
			sum.Lag = &l
		}
	case sum.Lag != nil && g.Lag != nil:
		l := *sum.Lag + *g.Lag
		sum.Lag = &l
	default:
		sum.Lag = nil
	}
	sum.Pending += g.Pending
	sum.Consumers = max(sum.Consumers, g.Consumers)
	sum.OldestMS = max(sum.OldestMS, g.OldestMS)
	return sum
}

// noSuchKey: XINFO on a stream that does not exist yet (HasErrorPrefix drops the "ERR ").
func noSuchKey(err error) bool { return redis.HasErrorPrefix(err, "no such key") }
