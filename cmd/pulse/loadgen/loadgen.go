// Package loadgen is `pulse bench`: a load generator against a running Pulse that posts events
// (single or batched, at a fixed rate or flat out, subjects with a Zipf skew), measures HTTP
// latency, end-to-end latency through the live WebSocket (202 → update showing the event) and
// snapshot latency, and finally checks the window counts against what ingest accepted.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulsehq/pulse/client"
)

// runner is one run's state.
type runner struct {
	cfg   Config
	base  string
	api   *client.Client // the queries around the run; events go through httpConn
	track *tracker
}

func (r *runner) subject(rank int) string { return r.cfg.Prefix + strconv.Itoa(rank) }

// Run drives one load run and reports what it measured. It fails only when the run cannot
// happen (bad config, server unreachable, key refused); what the run finds (drift, refused
// requests, no live role) is in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	api, err := client.New(client.Config{URL: cfg.URL, APIKey: cfg.APIKey, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	r := &runner{
		cfg:   cfg,
		base:  strings.TrimSuffix(cfg.URL, "/"),
		api:   api,
		track: newTracker(cfg.Subjects, cfg.Track, time.Now()),
	}
	res := &Result{
		Target: r.base, Type: cfg.Type, Prefix: cfg.Prefix, Subjects: cfg.Subjects, Zipf: cfg.Zipf,
		Batch: cfg.Batch, TargetRate: cfg.Rate, Concurrency: cfg.Concurrency, IDs: cfg.IDs,
		Status: map[string]int64{},
	}

	// The count API answers first: it proves the server is there and the key works.
	hasCounts := true
	if _, err := api.Windows(ctx, cfg.Type, r.subject(0)); err != nil {
		var se *client.Error
		if !errors.As(err, &se) || se.Status != http.StatusNotFound {
			return nil, err
		}
		hasCounts = false
		res.Notes = append(res.Notes, "no /v1/windows at the target (no counter role): counts not checked")
	}

	var lv *live
	if !cfg.NoLive {
		lv = newLive(r.base, cfg.APIKey, cfg.Type, r.track, r.subject)
		defer lv.close()
		if err := lv.probe(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Notes = append(res.Notes, "end-to-end latency not measured: "+err.Error())
			lv.close()
			lv = nil
		} else if cfg.Connections > 0 {
			lv.fanout(ctx, cfg.Connections)
		}
	}

	s := r.send(ctx)
	res.Seconds = s.elapsed.Seconds()
	res.fill(s)
	r.settle(ctx, res, s.start, hasCounts, lv)
	if lv != nil {
		lv.close()
		res.E2E = r.track.e2e.summary()
		res.Unresolved = r.track.unresolved()
		res.Snapshot = lv.snapshot.summary()
		res.LiveFrames = lv.frames.Load()
		res.Gaps = lv.gaps.Load()
		if cfg.Connections > 0 {
			res.Fanout = &Fanout{Connections: lv.fanOK.Load(), Failed: lv.fanFailed.Load(),
				Snapshots: lv.fanSnapshots.Load(), Frames: lv.fanFrames.Load()}
		}
	}
	res.notes()
	return res, ctx.Err()
}

type sendResult struct {
	*sender
	start   time.Time
	elapsed time.Duration
}

// send runs the workers for the configured duration.
func (r *runner) send(ctx context.Context) sendResult {
	s := &sender{
		cfg:      r.cfg,
		subjects: make([][]byte, r.cfg.Subjects),
		zipf:     newZipf(r.cfg.Subjects, r.cfg.Zipf),
		track:    r.track,
	}
	for rank := range s.subjects {
		s.subjects[rank], _ = json.Marshal(r.subject(rank)) // a string always marshals
	}
	if r.cfg.Rate > 0 {
		s.interval = time.Duration(float64(time.Second) * float64(r.cfg.Batch) / r.cfg.Rate)
	}
	s.start = time.Now()
	var wg sync.WaitGroup
	for w := range r.cfg.Concurrency {
		wg.Go(func() { s.run(ctx, w) })
	}
	wg.Wait()
	return sendResult{sender: s, start: s.start, elapsed: time.Since(s.start)}
}

// settle waits, up to cfg.Settle, until the observed counts equal what ingest accepted and
// every tracked send was seen live, then records the comparison.
func (r *runner) settle(ctx context.Context, res *Result, start time.Time, hasCounts bool, lv *live) {
	begin := time.Now()
	deadline := begin.Add(r.cfg.Settle)
	for {
		matched := true
		if hasCounts {
			names, counts, err := r.observe(ctx)
			if err != nil {
				res.Notes = append(res.Notes, "count check failed: "+err.Error())
				hasCounts = false
			} else {
				res.Drift = r.compare(names, counts, time.Since(start))
				for _, d := range res.Drift {
					matched = matched && d.Mismatched == 0
				}
			}
		}
		seen := lv == nil || r.track.unresolved() == 0
		if (matched && seen) || time.Now().After(deadline) || ctx.Err() != nil {
			res.SettleSeconds = time.Since(begin).Seconds()
			if hasCounts && len(res.Drift) == 0 {
				res.Notes = append(res.Notes, "the run outlasted every window: counts cannot be checked exactly")
			}
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// fill copies the sender's totals into the result.
func (res *Result) fill(s sendResult) {
	st := &s.stats
	res.Requests = st.requests.Load()
	res.Accepted = st.accepted.Load()
	res.Duplicates = st.duplicates.Load()
	res.Rejected = st.rejected.Load()
	res.Unknown = st.unknown.Load()
	for code := range st.status {
		if n := st.status[code].Load(); n > 0 {
			res.Status[strconv.Itoa(code)] = n
		}
	}
	if n := st.transport.Load(); n > 0 {
		res.Status["transport_error"] = n
	}
	if secs := s.elapsed.Seconds(); secs > 0 {
		res.EventsPerSec = float64(res.Accepted) / secs
		res.RequestsPerSec = float64(res.Requests) / secs
	}
	res.HTTP = s.http.summary()
}

// notes explains anything in the result that is not a clean run.
func (res *Result) notes() {
	if res.TargetRate > 0 && res.EventsPerSec < 0.95*res.TargetRate {
		res.Notes = append(res.Notes, fmt.Sprintf("target rate %.0f events/s not reached (%.0f): too few workers (--concurrency) or the server is saturated", res.TargetRate, res.EventsPerSec))
	}
	for _, code := range slices.Sorted(maps.Keys(res.Status)) {
		if code != "202" {
			res.Notes = append(res.Notes, fmt.Sprintf("%d requests answered %s", res.Status[code], code))
		}
	}
	if res.Unknown > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d events had no answer (may or may not be counted)", res.Unknown))
	}
	if res.Unresolved > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d accepted events never showed in a live update", res.Unresolved))
	}
	if f := res.Fanout; f != nil && f.Snapshots < f.Connections {
		res.Notes = append(res.Notes, fmt.Sprintf("%d idle subscribers never got their snapshot", f.Connections-f.Snapshots))
	}
	if res.Gaps > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d live frames were dropped by the server (seq gaps)", res.Gaps))
	}
}
