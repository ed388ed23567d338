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

// CompactedKey names the file that merges partition p's files of hour h whose spans lie in
// span: "<p>-<first id>-<last id>-c.parquet". It supersedes them (Live).
func CompactedKey(h int64, p int, s Span) string {
	return HourPrefix(h) + FilePrefix(p) + s.First.String() + "-" + s.Last.String() + "-c.parquet"
}

// FilePrefix starts the names of partition p's files.
func FilePrefix(p int) string { return strconv.Itoa(p) + "-" }

// File is what an archive file's key says.
type File struct {
	Key       string
	Size      int64
	ModTime   time.Time // when it was written (from the listing)
	Hour      int64     // unix hour of its folder
	Partition int
	Span      Span
	Compacted bool // merges earlier files: see Live
}

// ParseKey reads a file's hour, partition, span and kind back from its key.
func ParseKey(key string) (File, error) {
	f := File{Key: key}
	name, ok := strings.CutSuffix(path.Base(key), ".parquet")
	if name, f.Compacted = strings.CutSuffix(name, "-c"); !ok {
		return f, fmt.Errorf("archive file %q: not a .parquet file", key)
	}
	parts := strings.Split(name, "-")
	var err error
	if f.Hour, ok = HourOfKey(key); !ok || len(parts) != 5 {
		return f, fmt.Errorf("archive file %q: want %s<hour folder>/<partition>-<first id>-<last id>.parquet", key, Root)
	}
	if f.Partition, err = strconv.Atoi(parts[0]); err != nil {
		return f, fmt.Errorf("archive file %q: partition: %w", key, err)
	}
	if f.Span.First, err = ParseID(parts[1] + "-" + parts[2]); err != nil {
		return f, fmt.Errorf("archive file %q: %w", key, err)
	}
	if f.Span.Last, err = ParseID(parts[3] + "-" + parts[4]); err != nil {
		return f, fmt.Errorf("archive file %q: %w", key, err)
	}
	return f, nil
}

// Live sorts the files of one listing into those that hold rows nothing else holds, and those a
// compacted file of the same hour and partition supersedes: its span contains theirs, so it
// holds their rows (the archiver compacts only spans every entry of which is archived). A
// compaction interrupted between writing its file and removing the ones it merged leaves
// superseded files behind: readers skip them, the archiver removes them.
func Live(files []File) (live, superseded []File) {
	type folder struct {
		hour int64
		p    int
	}
	compacted := map[folder][]File{}
	for _, f := range files {
		if f.Compacted {
			k := folder{f.Hour, f.Partition}
			compacted[k] = append(compacted[k], f)
		}
	}
	for _, f := range files {
		covered := false
		for _, c := range compacted[folder{f.Hour, f.Partition}] {
			if c.Key != f.Key && c.Span.Contains(f.Span.First) && c.Span.Contains(f.Span.Last) {
				covered = true
				break
			}
		}
		if covered {
			superseded = append(superseded, f)
		} else {
			live = append(live, f)
		}
	}
	return live, superseded
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
