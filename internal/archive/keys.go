package archive

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// Root is the folder of event files in the store.
const Root = "events/"

// HourPrefix is the folder of the events whose time lies in the hour starting at unix hour h:
// "events/year=2026/month=12/day=04/hour=17/".
func HourPrefix(h int64) string {
	t := time.Unix(h*3600, 0).UTC()
	return fmt.Sprintf("%syear=%04d/month=%02d/day=%02d/hour=%02d/", Root, t.Year(), t.Month(), t.Day(), t.Hour())
}

// dayPrefix is the folder of the day holding unix hour h.
func dayPrefix(h int64) string {
	p := HourPrefix(h)
	return p[:len(p)-len("hour=00/")]
}

// Span is a closed range of stream entry ids, [First, Last].
type Span struct {
	First, Last ID
}

// Contains reports whether id lies in s.
func (s Span) Contains(id ID) bool { return !id.Less(s.First) && !s.Last.Less(id) }

// Key names the file of partition p's events of unix hour h that a roll covering span wrote:
// "events/year=…/hour=HH/<p>-<first id>-<last id>.parquet". The name is the file's promise: it
// holds every event of that hour and partition with a stream id in span that no other file with
// a span holding the id does (see the archiver).
func Key(h int64, p int, s Span) string {
	return HourPrefix(h) + FilePrefix(p) + s.First.String() + "-" + s.Last.String() + ".parquet"
}

// FilePrefix starts the names of partition p's files.
func FilePrefix(p int) string { return strconv.Itoa(p) + "-" }

// ParseKey reads the partition and span back from a file's key.
func ParseKey(key string) (p int, s Span, err error) {
	name := strings.TrimSuffix(path.Base(key), ".parquet")
	f := strings.Split(name, "-")
	if len(f) != 5 || !strings.HasSuffix(key, ".parquet") {
		return 0, s, fmt.Errorf("archive file %q: want <partition>-<first id>-<last id>.parquet", key)
	}
	if p, err = strconv.Atoi(f[0]); err != nil {
		return 0, s, fmt.Errorf("archive file %q: partition: %w", key, err)
	}
	if s.First, err = ParseID(f[1] + "-" + f[2]); err != nil {
		return 0, s, fmt.Errorf("archive file %q: %w", key, err)
	}
	if s.Last, err = ParseID(f[3] + "-" + f[4]); err != nil {
		return 0, s, fmt.Errorf("archive file %q: %w", key, err)
	}
	return p, s, nil
}

// ID is a Redis stream entry id.
type ID struct{ Ms, Seq uint64 }

// ParseID reads "<ms>-<seq>".
func ParseID(s string) (ID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return ID{}, fmt.Errorf("stream id %q: want <ms>-<seq>", s)
	}
	return ID{a, b}, nil
}

func (id ID) String() string {
	return strconv.FormatUint(id.Ms, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// Less orders ids as the stream does.
func (id ID) Less(o ID) bool { return id.Ms < o.Ms || id.Ms == o.Ms && id.Seq < o.Seq }

// HourOf is the unix hour of a unix-ms time.
func HourOf(ms int64) int64 {
	h := ms / 3_600_000
	if ms < 0 && ms%3_600_000 != 0 {
		h--
	}
	return h
}
