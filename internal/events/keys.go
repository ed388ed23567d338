package events

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// DefaultPartitions is N when a deployment does not choose one. N is fixed for the life of a
// deployment: it is recorded under MetaKey and a process with another N refuses to start.
const DefaultPartitions = 8

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

// Tag is the partition's cluster hash tag. Every key of a partition carries it, so one Lua
// call touches one slot and the same code runs on Redis Cluster.
func Tag(p int) string { return "{p" + strconv.Itoa(p) + "}" }

// Stream is the partition's event stream.
func Stream(p int) string { return "pulse:" + Tag(p) + ":events" }

// Changes is the partition's sharded pub/sub channel of count changes (SPUBLISH).
func Changes(p int) string { return "pulse:" + Tag(p) + ":changes" }

// Prefix starts every other per-partition key ("pulse:{p3}:"); roles name their keys under it.
func Prefix(p int) string { return "pulse:" + Tag(p) + ":" }

// DedupeKey is the idempotency marker of a client id. It is per (type, subject, id) because
// only those share a partition; the id's length prefix keeps ids containing ':' unambiguous.
func DedupeKey(p int, typ, subject, id string) string {
	return Prefix(p) + "d:" + typ + ":" + strconv.Itoa(len(id)) + ":" + id + ":" + subject
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
	MetaKey        = "pulse:meta"  // deployment facts: partitions, windows
	TypesKey       = "pulse:types" // registry of event types: type → last second admitted (capped)
)

// Consumer group names.
const (
	GroupCounter = "counter"
	GroupIndexer = "indexer"
)
