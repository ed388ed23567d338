package live

import (
	"slices"
	"time"
)

// subscription is one client subscription: either to subjects of a type, or to a type's top
// list. All its fields past the immutable header are guarded by its client's mu.
type subscription struct {
	c      *client
	id     string
	idJSON []byte
	typ    string

	isTop    bool
	watch    bool            // counts its connection as watching its subjects; frames say how many
	subjects []*subjectState // subject subscriptions, in the client's order
	group    *topGroup       // top subscriptions: set by joinTop before the first leaderboard

	seq int64     // of the last frame sent
	at  int64     // unix ms of the newest change applied
	due time.Time // no frame before: conflation interval, or snapshot retry

	// Until a snapshot went out, changes land in the state but no update is queued: the
	// snapshot merges them and goes first.
	snap     snapState
	read     *snapRead // the outcome of the read, once the snapshotter is done (snapReading, snapStale)
	failures int       // snapshot reads failed in a row (one error frame per streak)
	queued   bool      // in client.pending
	removed  bool      // unsubscribed or client gone
	changed  int       // subjects changed since the last frame

	top, sentTop *topResult // latest leaderboard of the group, and the one last sent
}

// snapState is where a subscription is in the life of its snapshot.
type snapState uint8

const (
	snapLive    snapState = iota // counts are current: changes go out as updates
	snapWanted                   // a snapshot must be read first (subscribe, resync, a failed read)
	snapReading                  // asked of the snapshotter; its outcome arrives in read
	snapStale                    // reading, and asked again meanwhile: this read may predate the ask
)

// subjectState is the latest known counts of one subject of a subscription.
type subjectState struct {
	sub      *subscription
	name     string
	json     []byte
	part     int
	counts   []int64
	version  int64 // of the partition change (or snapshot) the counts come from
	watching int64 // connections watching the subject, over every live process (watch subscriptions)
	changed  bool  // since the last frame
}

// apply stores a change's counts when it is newer than what the state has. It reports
// whether it stored them, and whether they overwrote counts not yet sent (conflation).
func (st *subjectState) apply(counts []int64, version, at int64) (stored, conflated bool) {
	if version <= st.version {
		return false, false
	}
	st.version = version
	sub := st.sub
	sub.at = max(sub.at, at)
	if slices.Equal(st.counts, counts) {
		return true, false
	}
	copy(st.counts, counts)
	if st.changed {
		return true, true
	}
	st.changed = true
	sub.changed++
	return true, false
}

// merge takes a snapshot: the snapshot's counts, unless a change newer than the snapshot
// already arrived while it was read.
func (sub *subscription) merge(snap Snapshot) {
	sub.at = max(sub.at, snap.At)
	for _, st := range sub.subjects {
		if v := snap.Versions[st.part]; st.version <= v {
			st.version = v
			clear(st.counts)
			copy(st.counts, snap.Counts[st.name])
		}
		st.changed = false
	}
	sub.changed = 0
}

// appendSnapshot writes the full counts of the subscription.
func (sub *subscription) appendSnapshot(b []byte, keys [][]byte) []byte {
	sub.seq++
	b = appendHeader(b, "snapshot", sub.idJSON, sub.seq, sub.at)
	b = append(b, `,"counts":[`...)
	for i, st := range sub.subjects {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCount(b, keys, st.json, st.counts, sub.watching(st))
	}
	return append(b, "]}"...)
}

// watching is what a frame says of st's watchers: nothing (-1) unless sub asked.
func (sub *subscription) watching(st *subjectState) int64 {
	if !sub.watch {
		return -1
	}
	return st.watching
}

// appendUpdate writes the counts of the subjects changed since the last frame.
func (sub *subscription) appendUpdate(b []byte, keys [][]byte) []byte {
	sub.seq++
	b = appendHeader(b, "update", sub.idJSON, sub.seq, sub.at)
	b = append(b, `,"counts":[`...)
	first := true
	for _, st := range sub.subjects {
		if !st.changed {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendCount(b, keys, st.json, st.counts, sub.watching(st))
		st.changed = false
	}
	sub.changed = 0
	return append(b, "]}"...)
}

// appendTop writes the latest leaderboard.
func (sub *subscription) appendTop(b []byte) []byte {
	sub.seq++
	res := sub.top
	b = appendHeader(b, "top", sub.idJSON, sub.seq, res.at)
	b = append(b, `,"window":`...)
	b = append(b, sub.group.windowJSON...)
	b = append(b, `,"entries":`...)
	b = append(b, res.entries...)
	sub.sentTop = res
	return append(b, '}')
}

// isRemoved reports whether sub was unsubscribed or its client is gone.
func (sub *subscription) isRemoved() bool {
	sub.c.mu.Lock()
	defer sub.c.mu.Unlock()
	return sub.removed
}

// restartSnapshot asks for a fresh snapshot. Versions are forgotten: after a Redis restart
// that lost data they may count from scratch, and only the new snapshot's versions hold.
func (sub *subscription) restartSnapshot() {
	switch sub.snap {
	case snapLive:
		sub.snap = snapWanted
	case snapReading:
		sub.snap = snapStale
	}
	sub.due = time.Time{}
	for _, st := range sub.subjects {
		st.version = 0
	}
}
