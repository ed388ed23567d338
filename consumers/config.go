package consumers

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"dario.cat/mergo"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
)

// Config configures a Group. A zero field but Group means its default (DefaultConfig); a
// negative one is refused unless its comment says what it means.
type Config struct {
	// Group is the consumer group name (events.GroupCounter, events.GroupIndexer). Required.
	Group string
	// Consumer names this consumer inside the group. Default: the host name, which is stable
	// across restarts in containers, so a restarted consumer replays its own pending entries.
	// Two processes sharing a name are safe (each entry's effect is guarded), only wasteful.
	Consumer string
	// Layout names the partition streams. One reader goroutine serves each partition: a read
	// touches one stream, so one cluster slot.
	Layout events.Layout
	// Streams, when set, lists the streams to consume instead of the partition streams (one
	// reader each; Layout.Partitions becomes len(Streams) and Batch.Partition indexes Streams). The
	// indexer consumes the failure stream this way.
	Streams []string
	// Count is the most entries per read and so per batch.
	Count int
	// Block bounds a blocking read. Cancelling ctx cannot interrupt a blocked read, so Run
	// may take up to Block to return.
	Block time.Duration
	// ClaimIdle is how long an entry stays pending with another consumer before this one
	// reclaims it with XAUTOCLAIM. It must exceed the slowest batch.
	ClaimIdle time.Duration
	// ForgetIdle: consumers of the group that have not read for this long and hold no pending
	// entry are removed. It must be far longer than any pause of a live consumer; one removed
	// by mistake is recreated by its next read, having lost nothing.
	ForgetIdle time.Duration
	// MaxDeliveries: an entry that fails on its MaxDeliveries-th delivery or a later one goes
	// to the failure stream. Deliveries cut short by a stop or a crash are not failures; they
	// only bring that point closer.
	MaxDeliveries int
	// RetryDelay is the wait before this consumer retries its own failed entries.
	RetryDelay time.Duration
	// FailedMaxLen is the capacity of the dead-letter store. When it is full, entries that
	// should be dead-lettered stay pending instead (retried every RetryDelay, reported by
	// pulse_consumer_dead_letter_refused_total): never dropped.
	FailedMaxLen int64
	// Stage is written into failure records.
	Stage string
	// DeadMarkerTTL is how long the marker of a dead-lettered entry (DeadMarker) lives (long
	// enough to make the dead-letter step idempotent). Negative: until a replay consumes it;
	// the counter needs that, since its replay counts an entry only by consuming the marker.
	DeadMarkerTTL time.Duration
	// Logger: nil is slog.Default() when New runs.
	Logger *slog.Logger
	// Metrics registers the group's metrics; nil registers none.
	Metrics prometheus.Registerer
}

// DefaultConfig is a Group's defaults. Consumer defaults to the host name, which is stable
// across restarts in containers. Derived when zero: ForgetIdle (1 h, or 4 × ClaimIdle if
// longer), Stage (Group), Layout.Partitions (len(Streams) when Streams are given).
func DefaultConfig() Config {
	return Config{
		Consumer:      defaultConsumer(),
		Layout:        events.DefaultLayout(),
		Count:         256,
		Block:         2 * time.Second,
		ClaimIdle:     30 * time.Second,
		MaxDeliveries: 5,
		RetryDelay:    time.Second,
		FailedMaxLen:  failures.DefaultMaxLen,
		DeadMarkerTTL: time.Hour,
	}
}

// withDefaults fills zero fields and validates the result.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("group is required"))
	}
	if len(c.Streams) > 0 {
		c.Layout.Partitions = len(c.Streams)
	}
	if c.Stage == "" {
		c.Stage = c.Group
	}
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if err := mergo.Merge(&c, DefaultConfig()); err != nil {
		return c, err
	}
	if c.ForgetIdle == 0 {
		c.ForgetIdle = max(time.Hour, 4*c.ClaimIdle)
	}
	if err := c.Layout.Check(); err != nil {
		errs = append(errs, err)
	}
	if c.Count < 1 {
		errs = append(errs, fmt.Errorf("count %d: want ≥ 1", c.Count))
	}
	if c.Block < time.Millisecond {
		errs = append(errs, fmt.Errorf("block %s: want ≥ 1ms (0 would block forever)", c.Block))
	}
	if c.ClaimIdle < time.Millisecond || c.RetryDelay < 0 {
		errs = append(errs, errors.New("claim idle must be ≥ 1ms and retry delay ≥ 0"))
	}
	if c.ForgetIdle < 2*c.ClaimIdle {
		errs = append(errs, fmt.Errorf("forget idle %s: want ≥ 2 × claim idle (%s)", c.ForgetIdle, c.ClaimIdle))
	}
	if c.MaxDeliveries < 1 {
		errs = append(errs, fmt.Errorf("max deliveries %d: want ≥ 1", c.MaxDeliveries))
	}
	return c, errors.Join(errs...)
}

func defaultConsumer() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "pulse-" + strconv.Itoa(os.Getpid())
}
