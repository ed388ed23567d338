package events

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// DefaultPartitions is N when a deployment does not choose one: with balanced tags, 16
// partitions spread within one of each other over 2, 3, 4, 6, 8 or 16 masters of a cluster
// made by redis-cli (TestBalancedSpread); on one Redis the counter drained 16 faster than 8
// (more parallel readers) or 128 (4× its CPU per event): BENCHMARKS.md. N is fixed for the life
// of a deployment: it is recorded under MetaKey and a process with another N refuses to start.
const DefaultPartitions = 16

// MaxPartitions bounds N: every consumer runs one reader per partition.
const MaxPartitions = 1024

// CheckPartitions refuses a partition count outside 1..MaxPartitions.
func CheckPartitions(n int) error {
	if n < 1 || n > MaxPartitions {
		return fmt.Errorf("partitions %d: want 1..%d", n, MaxPartitions)
	}
	return nil
}

// Partition is fnv1a32(type + "\x00" + subject) % n: duplicates of an event (same type and
// subject) always meet in the same partition, so its dedupe and counting stay in one slot.
func Partition(typ, subject string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(subject))
	return int(h.Sum32() % uint32(n))
}

// Layout is how a deployment lays out its partitions in Redis: how many, and the cluster
// hash tag of each. Every key of a partition carries its tag, so one Lua call touches one
// slot and the same code runs on Redis Cluster. The zero fields of a role's Layout take
// DefaultLayout's values.
type Layout struct {
	Partitions int
	Tags       Tags
}

// DefaultLayout is the layout of a new deployment that sets nothing.
func DefaultLayout() Layout { return Layout{Partitions: DefaultPartitions, Tags: TagsBalanced} }

// Check refuses a partition count out of range or an unknown tag scheme.
func (l Layout) Check() error {
	if err := CheckPartitions(l.Partitions); err != nil {
		return err
	}
	if l.Tags != TagsBalanced && l.Tags != TagsNumbered {
		return fmt.Errorf("partition tags %q: want %q or %q", l.Tags, TagsBalanced, TagsNumbered)
	}
	return nil
}

// Partition is the partition of (typ, subject) in l.
func (l Layout) Partition(typ, subject string) int { return Partition(typ, subject, l.Partitions) }

// Tag is partition p's hash tag, braces included.
func (l Layout) Tag(p int) string {
	if l.Tags == TagsNumbered {
		return "{p" + strconv.Itoa(p) + "}"
	}
	return balancedTags(l.Partitions)[p]
}

// Stream is the partition's event stream.
func (l Layout) Stream(p int) string { return "pulse:" + l.Tag(p) + ":events" }

// Changes is the partition's sharded pub/sub channel of count changes (SPUBLISH).
func (l Layout) Changes(p int) string { return "pulse:" + l.Tag(p) + ":changes" }

// Prefix starts every other per-partition key ("pulse:{p3.12236}:"); roles name their keys
// under it.
func (l Layout) Prefix(p int) string { return "pulse:" + l.Tag(p) + ":" }

// DedupeKey is the idempotency marker of a client id. It is per (type, subject, id) because
// only those share a partition; the id's length prefix keeps ids containing ':' unambiguous.
func (l Layout) DedupeKey(p int, typ, subject, id string) string {
	return l.Prefix(p) + "d:" + typ + ":" + strconv.Itoa(len(id)) + ":" + id + ":" + subject
}

// Keys outside any partition.
const (
	// FailedStream holds the dead letters of accepted events (stages after ingest). Only a
	// replay or an operator removes a record: other traffic can never push one out, and a full
	// store refuses new dead letters (their entries stay pending) instead of dropping any.
	FailedStream = "pulse:failed"
	// RejectedStream holds the items ingest rejected (never accepted), capped by trimming the
	// oldest: junk input can only push out other junk.
	RejectedStream = "pulse:rejected"
	MetaKey        = "pulse:meta"  // deployment facts: partitions, tags, windows
	TypesKey       = "pulse:types" // registry of event types: type → last second admitted (capped)
)

// Consumer group names.
const (
	GroupCounter = "counter"
	GroupIndexer = "indexer"
	// GroupArchiver writes the archive (consumers/archiver).
	GroupArchiver = "archiver"
)
