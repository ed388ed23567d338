package consumers

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
)

// Config configures a Group. The zero value of every field but Group means its default.
type Config struct {
	// Group is the consumer group name (events.GroupCounter, events.GroupIndexer). Required.
	Group string
	// Consumer names this consumer inside the group. Default: the host name, which is stable
	// across restarts in containers, so a restarted consumer replays its own pending entries.
	// Two processes sharing a name are safe (each entry's effect is guarded), only wasteful.
	Consumer string
	// Partitions is the number of partition streams (default events.DefaultPartitions). One
	// reader goroutine serves each partition: a read touches one stream, so one cluster slot.
	Partitions int
	// Streams, when set, lists the streams to consume instead of the partition streams (one
	// reader each; Partitions becomes len(Streams) and Batch.Partition indexes Streams). The
	// indexer consumes the failure stream this way.
	Streams []string
	// Count is the most entries per read and so per batch (default 256).
	Count int
	// Block bounds a blocking read (default 2 s). Cancelling ctx cannot interrupt a blocked
	// read, so Run may take up to Block to return.
	Block time.Duration
	// ClaimIdle is how long an entry stays pending with another consumer before this one
	// reclaims it with XAUTOCLAIM (default 30 s). It must exceed the slowest batch.
	ClaimIdle time.Duration
	// ForgetIdle: consumers of the group that have not read for this long and hold no pending
	// entry are removed (default 1 h, or 4 × ClaimIdle if longer). It must be far longer than any pause of a live
	// consumer; one removed by mistake is recreated by its next read, having lost nothing.
	ForgetIdle time.Duration
	// MaxDeliveries: an entry that fails on its MaxDeliveries-th delivery or a later one goes to
	// the failure stream (default 5). Deliveries cut short by a stop or a crash are not
	// failures; they only bring that point closer.
	MaxDeliveries int
	// RetryDelay is the wait before this consumer retries its own failed entries (default 1 s).
	RetryDelay time.Duration
	// FailedMaxLen is the capacity of the dead-letter store (default failures.DefaultMaxLen).
	// When it is full, entries that should be dead-lettered stay pending instead (retried
	// every RetryDelay, reported by pulse_consumer_dead_letter_refused_total): never dropped.
	FailedMaxLen int64
	// Stage is written into failure records (default: Group).
	Stage string
	// DeadMarkerTTL is how long the marker of a dead-lettered entry (DeadMarker) lives
	// (default 1 h: long enough to make the dead-letter step idempotent). Negative: until a
	// replay consumes it; the counter needs that, since its replay counts an entry only by
	// consuming the marker.
	DeadMarkerTTL time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics registers the group's metrics; nil registers none.
	Metrics prometheus.Registerer
}

// Defaults of Config.
const (
	DefaultCount         = 256
	DefaultBlock         = 2 * time.Second
	DefaultClaimIdle     = 30 * time.Second
	DefaultMaxDeliveries = 5
	DefaultRetryDelay    = time.Second
	DefaultDeadMarkerTTL = time.Hour
	DefaultForgetIdle    = time.Hour
)

// withDefaults fills zero fields and validates the result.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("group is required"))
	}
	if c.Consumer == "" {
		c.Consumer = defaultConsumer()
	}
	if len(c.Streams) > 0 {
		c.Partitions = len(c.Streams)
	}
	if c.Partitions == 0 {
		c.Partitions = events.DefaultPartitions
	}
	if c.Count == 0 {
		c.Count = DefaultCount
	}
	if c.Block == 0 {
		c.Block = DefaultBlock
	}
	if c.ClaimIdle == 0 {
		c.ClaimIdle = DefaultClaimIdle
	}
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = DefaultMaxDeliveries
	}
	if c.ForgetIdle == 0 {
		c.ForgetIdle = max(DefaultForgetIdle, 4*c.ClaimIdle)
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.DeadMarkerTTL == 0 {
		c.DeadMarkerTTL = DefaultDeadMarkerTTL
	}
	if c.FailedMaxLen == 0 {
		c.FailedMaxLen = failures.DefaultMaxLen
	}
	if c.Stage == "" {
		c.Stage = c.Group
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := events.CheckPartitions(c.Partitions); err != nil {
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
