package loadgen

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// Config describes one load run. The zero value of every field but URL means its default.
type Config struct {
	URL    string // base URL of a running pulse (or the compose gateway), e.g. http://127.0.0.1:8080
	APIKey string // sent as a Bearer token when set

	Type     string  // event type; default "bench_liked"
	Subjects int     // distinct subjects; default 100
	Zipf     float64 // popularity skew s: subject of rank k is picked ∝ 1/(k+1)^s; 0 = uniform
	Prefix   string  // subject prefix; default a random one, so a run never meets old counts
	IDs      bool    // send a client id with every event (exercises dedupe)

	Batch       int           // events per request; ≤ 1 sends single objects
	Rate        float64       // events per second over all workers; 0 = as fast as possible
	Concurrency int           // parallel HTTP senders; default 64
	Duration    time.Duration // how long to send; default 10 s

	NoLive      bool          // skip the WebSocket end-to-end measurement
	Connections int           // extra idle WebSocket subscribers (fan-out); default 0
	Track       int           // hottest subjects whose end-to-end latency is measured; default 1000
	Settle      time.Duration // how long to wait for counts to catch up after sending; default 15 s
	Seed        uint64        // subject sequence seed; default from the clock
}

var (
	typeRe   = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	prefixRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{0,64}$`)
)

// Defaults are the values a zero field takes (URL, Prefix and Seed have none: the URL is
// required, the prefix and seed are random per run).
func Defaults() Config {
	return Config{
		Type:        "bench_liked",
		Subjects:    100,
		Batch:       1,
		Concurrency: 64,
		Duration:    10 * time.Second,
		Track:       1000,
		Settle:      15 * time.Second,
	}
}

// withDefaults returns c with defaults filled in, or why c cannot run.
func (c Config) withDefaults() (Config, error) {
	d := Defaults()
	var errs []error
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q: want http(s)://host:port", c.URL))
	}
	if c.Type == "" {
		c.Type = d.Type
	}
	if !typeRe.MatchString(c.Type) {
		errs = append(errs, fmt.Errorf("type %q: must match %s", c.Type, typeRe))
	}
	if c.Subjects == 0 {
		c.Subjects = d.Subjects
	}
	if c.Subjects < 1 || c.Subjects > maxSubjects {
		errs = append(errs, fmt.Errorf("subjects %d: want 1..%d", c.Subjects, maxSubjects))
	}
	if c.Zipf < 0 {
		errs = append(errs, fmt.Errorf("zipf %g: want ≥ 0", c.Zipf))
	}
	if c.Prefix == "" {
		c.Prefix = randomPrefix()
	}
	if !prefixRe.MatchString(c.Prefix) {
		errs = append(errs, fmt.Errorf("prefix %q: want up to 64 of [A-Za-z0-9._:-]", c.Prefix))
	}
	if c.Batch < 1 {
		c.Batch = d.Batch
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %g: want ≥ 0 (0 = max)", c.Rate))
	}
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d: want ≥ 1", c.Concurrency))
	}
	if c.Duration == 0 {
		c.Duration = d.Duration
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration %s: want > 0", c.Duration))
	}
	if c.Connections < 0 {
		errs = append(errs, fmt.Errorf("connections %d: want ≥ 0", c.Connections))
	}
	if c.Track == 0 {
		c.Track = d.Track
	}
	c.Track = min(c.Track, c.Subjects)
	if c.Settle == 0 {
		c.Settle = d.Settle
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return c, errors.Join(errs...)
}

// randomPrefix names a run's subjects ("b3f9a1c2-"), so two runs never share a count.
func randomPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "b" + hex.EncodeToString(b[:]) + "-"
}
