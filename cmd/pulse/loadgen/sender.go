package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// sender posts events from Concurrency workers, each with its own keep-alive connection and
// reused buffers.
type sender struct {
	cfg      Config
	subjects [][]byte // JSON-quoted subject of each rank, built once
	zipf     *zipf
	track    *tracker
	start    time.Time
	interval time.Duration // between two requests of the whole run; 0 = no pacing
	ticket   atomic.Int64  // next request number, for pacing
	http     histogram
	stats    counters
}

// counters are the run's request and event totals.
type counters struct {
	requests   atomic.Int64
	accepted   atomic.Int64
	duplicates atomic.Int64
	rejected   atomic.Int64
	unknown    atomic.Int64 // events of requests that failed in transit: appended or not
	status     [600]atomic.Int64
	transport  atomic.Int64 // requests without an HTTP answer
}

// ingestAnswer is the part of a 202 the run needs: the status of each event, in order.
type ingestAnswer struct {
	Results []struct {
		Status string `json:"status"`
	} `json:"results"`
}

// run sends until the run's duration has passed or ctx ends.
func (s *sender) run(ctx context.Context, worker int) {
	hc, err := newHTTPConn(s.cfg.URL, "/v1/events", s.cfg.APIKey)
	if err != nil {
		return // the URL was validated with the config
	}
	defer hc.close()
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(worker)))
	picks := make([]int, s.cfg.Batch)
	body := make([]byte, 0, 64*s.cfg.Batch)
	var answer bytes.Buffer
	var timer *time.Timer
	for seq := int64(0); ctx.Err() == nil; seq++ {
		if s.interval > 0 {
			// A request whose turn came after the end is not sent late: a run lasts Duration,
			// and a rate the server cannot take shows as a lower achieved rate.
			due := time.Duration(s.ticket.Add(1)-1) * s.interval
			if due >= s.cfg.Duration || time.Since(s.start) >= s.cfg.Duration {
				return
			}
			if wait := time.Until(s.start.Add(due)); wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
		} else if time.Since(s.start) >= s.cfg.Duration {
			return
		}
		for i := range picks {
			picks[i] = s.zipf.pick(rng)
		}
		body = s.appendBody(body[:0], picks, worker, seq)
		if s.post(hc, body, picks, &answer) != nil {
			// Unreachable server: retry soon, without spinning.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// appendBody writes one event object, or an array of them, without reflection.
func (s *sender) appendBody(b []byte, picks []int, worker int, seq int64) []byte {
	if len(picks) > 1 {
		b = append(b, '[')
	}
	for i, rank := range picks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"`...)
		b = append(b, s.cfg.Type...)
		b = append(b, `","subject":`...)
		b = append(b, s.subjects[rank]...)
		if s.cfg.IDs {
			// Unique per run: prefix, worker, the worker's request number and position.
			b = append(b, `,"id":"`...)
			b = append(b, s.cfg.Prefix...)
			b = strconv.AppendInt(b, int64(worker), 36)
			b = append(b, '.')
			b = strconv.AppendInt(b, seq, 36)
			b = append(b, '.')
			b = strconv.AppendInt(b, int64(i), 36)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	if len(picks) > 1 {
		b = append(b, ']')
	}
	return b
}

// post sends one request and accounts for its answer; it returns the transport error, if any.
func (s *sender) post(hc *httpConn, body []byte, picks []int, answer *bytes.Buffer) error {
	t0 := time.Now()
	status, err := hc.post(body, answer)
	now := time.Now()
	if err != nil {
		// The request may or may not have reached ingest: its events are neither expected
		// nor excluded, and the report says how many there were.
		s.stats.transport.Add(1)
		s.stats.unknown.Add(int64(len(picks)))
		return err
	}
	s.stats.requests.Add(1)
	if status < len(s.stats.status) {
		s.stats.status[status].Add(1)
	}
	if s.interval > 0 {
		// Paced: each worker is due every Concurrency × interval.
		s.http.recordPaced(now.Sub(t0), s.interval*time.Duration(s.cfg.Concurrency))
	} else {
		s.http.record(now.Sub(t0))
	}
	if status != http.StatusAccepted {
		if status == http.StatusBadRequest {
			s.stats.rejected.Add(int64(len(picks)))
		}
		return nil
	}
	var a ingestAnswer
	if json.Unmarshal(answer.Bytes(), &a) != nil || len(a.Results) != len(picks) {
		s.stats.unknown.Add(int64(len(picks)))
		return nil
	}
	for i, r := range a.Results {
		switch r.Status {
		case "accepted":
			s.stats.accepted.Add(1)
			s.track.accepted(picks[i], now)
		case "duplicate":
			s.stats.duplicates.Add(1)
		default:
			s.stats.rejected.Add(1)
		}
	}
	return nil
}
