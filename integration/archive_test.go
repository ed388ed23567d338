package integration

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// archived is the oracle's record of one accepted event.
type archived struct {
	typ, subject string
	time         int64
}

// TestArchiveOracle: 200,000 events with times spread over 48 hours, 5% of them sent twice
// (retried ids), while the archiver process is SIGKILLed again and again: at random instants,
// at every step of a commit and of a compaction (PULSE_TEST_ARCHIVE_KILL). Afterwards every accepted event is
// in exactly one row of the archive, in the folder of its event hour (read with parquet-go and
// with DuckDB); /v1/counts equals the oracle over ranges of the history, of the archive and
// across their boundary; after Redis is flushed, `pulse rebuild history` restores the counts,
// and `pulse replay` (twice) restores them through the pipeline without a row more in the
// archive.
func TestArchiveOracle(t *testing.T) {
	t.Parallel()
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	const parts = 4
	rs := testenv.StartRedis(t)
	dir := t.TempDir()
	p := Start(t, rs, func(c *app.Config) {
		c.Roles = []string{"ingest", "counter"}
		c.Partitions = parts
		c.ArchiveURL = dir
		c.Counter.HistoryRetention = 24 * time.Hour
	})
	rdb := p.Client(t)
	env := []string{
		"PULSE_REDIS_URL=" + rs.URL, "PULSE_PARTITIONS=" + strconv.Itoa(parts), "PULSE_ARCHIVE_URL=" + dir,
		"PULSE_HISTORY_RETENTION=24h", "PULSE_DATA_DIR=" + t.TempDir(), "PULSE_LOG_LEVEL=warn",
	}
	newArchiver := func(extra ...string) *pulseProc {
		a := &pulseProc{name: "archiver", roles: "archiver"}
		a.env = append(append(append([]string{}, env...), "PULSE_ROLES=archiver", "PULSE_ARCHIVE_ROLL=1s", "PULSE_ARCHIVE_LEASE=4s", "PULSE_ARCHIVE_COMPACT_AFTER=1s"), extra...)
		a.setPort(testenv.FreePort(t))
		t.Cleanup(a.kill) // a test that fails leaves no archiver behind
		return a
	}

	// Producer: the oracle holds every event sent; each is sent until it is answered accepted or
	// duplicate.
	now := time.Now()
	rng := rand.New(rand.NewPCG(13, uint64(now.UnixNano())))
	oracle := make(map[string]archived, n)
	all := make([]map[string]any, n)
	for i := range all {
		typ := []string{"like", "view"}[rng.IntN(2)]
		ev := archived{typ: typ, subject: "video-" + strconv.Itoa(rng.IntN(50)), time: now.Add(-time.Minute).UnixMilli() - rng.Int64N(48*3_600_000)}
		id := fmt.Sprintf("arc-%d", i)
		all[i] = map[string]any{"id": id, "type": ev.typ, "subject": ev.subject, "time": ev.time}
		oracle[id] = ev
	}
	produced := make(chan error, 1)
	hc := &http.Client{Timeout: 30 * time.Second}
	post := func(batch []map[string]any) error {
		body, _ := json.Marshal(batch)
		for {
			res, err := hc.Post(p.URL+"/v1/events", "application/json", bytes.NewReader(body))
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusOK {
					return nil
				}
				err = fmt.Errorf("status %d", res.StatusCode)
			}
			if res == nil || res.StatusCode != http.StatusServiceUnavailable {
				return fmt.Errorf("post: %w", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	go func() {
		prng := rand.New(rand.NewPCG(17, uint64(now.UnixNano())))
		for start := 0; start < n; start += 500 {
			batch := slices.Clone(all[start:min(start+500, n)])
			for range len(batch) / 20 { // 5%: ids sent before, as a client's retry would
				batch = append(batch, all[prng.IntN(start+len(batch))])
			}
			if err := post(batch); err != nil {
				produced <- err
				return
			}
		}
		produced <- nil
	}()

	// The archiver, killed: at random instants, and at each step of a commit.
	steps := []string{"", "staged", "put", "", "ack", "acked", "compacted"}
	kills := map[string]int{}
	var done bool
	for i := 0; !done || i < 2*len(steps); i++ {
		select {
		case err := <-produced:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
		}
		step := steps[i%len(steps)]
		var a *pulseProc
		if step == "" {
			a = newArchiver()
		} else {
			// A few new events, so that the archiver has a commit to die in even once the
			// producer is done.
			var batch []map[string]any
			for j := range 20 {
				id := fmt.Sprintf("arc-step-%d-%d", i, j)
				ev := archived{typ: "like", subject: "video-1", time: time.Now().Add(-time.Duration(rng.IntN(48*60)) * time.Minute).UnixMilli()}
				oracle[id] = ev
				batch = append(batch, map[string]any{"id": id, "type": ev.typ, "subject": ev.subject, "time": ev.time})
			}
			if err := post(batch); err != nil {
				t.Fatal(err)
			}
			a = newArchiver("PULSE_TEST_ARCHIVE_KILL=" + step)
		}
		if err := a.start(t); err != nil && !strings.Contains(err.Error(), "exited at start") {
			t.Fatal(err)
		}
		if step == "" {
			time.Sleep(time.Duration(300+rng.IntN(1500)) * time.Millisecond)
		} else {
			select { // it kills itself at its first commit's step
			case <-a.done:
			case <-time.After(30 * time.Second):
				t.Logf("archiver did not reach step %q within 30s: %s", step, tail(a.output(), 1500))
			}
		}
		a.kill()
		kills[step]++
	}
	t.Logf("archiver SIGKILLs by step (\"\": at random): %v", kills)

	final := newArchiver()
	if err := final.start(t); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, rdb, p.Layout, events.GroupArchiver, events.GroupCounter)
	final.kill() // at any step of a commit or compaction: the archive must read right anyway

	rows := readArchive(t, dir)
	checkRows(t, rows, oracle)
	checkDuckDB(t, dir, len(oracle))
	final = newArchiver()
	if err := final.start(t); err != nil {
		t.Fatal(err)
	}
	out := runPulse(t, env, "archive", "sql", "SELECT count(*) AS events, count(DISTINCT id) AS ids FROM events")
	if want := fmt.Sprintf("%d  %d", len(oracle), len(oracle)); !strings.Contains(out, want) {
		t.Errorf("pulse archive sql: %q, want a row %q", out, want)
	}
	ranges := countRanges(time.Now())
	checkArchiveCounts(t, p.URL, oracle, ranges)

	// Redis loses everything: the history comes back from the archive.
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	from, to := time.Now().Add(-25*time.Hour).UTC().Format(time.RFC3339), time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	out = runPulse(t, env, "rebuild", "history", "--from", from, "--to", to)
	t.Logf("pulse rebuild history: %s", lastLine(out))
	checkArchiveCounts(t, p.URL, oracle, historyRanges(ranges))

	// Again, rebuilt through the pipeline: replayed events are counted, not archived again.
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	out = runPulse(t, env, "replay", "--from", from, "--to", to)
	t.Logf("pulse replay: %s", lastLine(out))
	out = runPulse(t, env, "replay", "--from", from, "--to", to)
	if !strings.Contains(out, " 0 appended") {
		t.Errorf("a second replay appended events: %s", lastLine(out))
	}
	waitDrained(t, rdb, p.Layout, events.GroupArchiver, events.GroupCounter)
	checkArchiveCounts(t, p.URL, oracle, historyRanges(ranges))
	final.kill() // no compaction while the files are read
	if again := readArchive(t, dir); len(again) != len(rows) {
		t.Errorf("the archive holds %d rows after the replay, %d before", len(again), len(rows))
	}
}

// waitDrained waits until every group has been delivered every entry and acknowledged it.
// waitDrained waits until every group has acknowledged every entry. It is bounded by a stall,
// not by the whole drain: on a loaded machine an archiver that was SIGKILLed again and again
// takes minutes to catch up with 200,000 entries, but what it has left keeps falling.
func waitDrained(t *testing.T, rdb redis.UniversalClient, layout events.Layout, groups ...string) {
	t.Helper()
	ctx := context.Background()
	// left is what the groups have not acknowledged yet (pending or not delivered), -1 when
	// Redis cannot tell.
	left := func() int64 {
		var n int64
		for part := range layout.Partitions {
			info, err := rdb.XInfoStream(ctx, layout.Stream(part)).Result()
			if err != nil {
				return -1
			}
			gs, err := rdb.XInfoGroups(ctx, layout.Stream(part)).Result()
			if err != nil {
				return -1
			}
			for _, name := range groups {
				i := slices.IndexFunc(gs, func(g redis.XInfoGroup) bool { return g.Name == name })
				if i < 0 {
					return -1
				}
				lag := consumers.Lag(info.LastGeneratedID, gs[i])
				if lag < 0 {
					return -1
				}
				n += gs[i].Pending + lag
			}
		}
		return n
	}
	const stall = 3 * time.Minute
	best, moved := int64(-1), time.Now()
	testenv.WaitFor(t, 20*time.Minute, fmt.Sprintf("groups %v drained", groups), func() bool {
		n := left()
		if n == 0 {
			return true
		}
		if n > 0 && (best < 0 || n < best) {
			best, moved = n, time.Now()
		}
		if time.Since(moved) > stall {
			t.Fatalf("groups %v: %d entries left, none acknowledged for %s", groups, best, stall)
		}
		return false
	})
}

type fileRow struct {
	key string
	archive.Row
}

// liveFiles lists the archive's files, leaving out those a compacted file supersedes (left by
// a compaction killed before it removed them: readers skip them, docs/archive.md).
func liveFiles(t *testing.T, dir string) []archive.File {
	t.Helper()
	st, err := archive.Open(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files, err := st.Files(context.Background(), archive.Root)
	if err != nil {
		t.Fatal(err)
	}
	live, superseded := archive.Live(files)
	t.Logf("archive: %d files, %d superseded by a compacted one", len(live), len(superseded))
	return live
}

// readArchive reads every row of every live file with parquet-go.
func readArchive(t *testing.T, dir string) []fileRow {
	t.Helper()
	var out []fileRow
	for _, f := range liveFiles(t, dir) {
		rows, err := parquet.ReadFile[archive.Row](filepath.Join(dir, filepath.FromSlash(f.Key)))
		if err != nil {
			t.Fatalf("%s: %v", f.Key, err)
		}
		for _, r := range rows {
			out = append(out, fileRow{f.Key, r})
		}
	}
	return out
}

// checkRows: every event of the oracle in exactly one row, in its hour's folder, as sent.
func checkRows(t *testing.T, rows []fileRow, oracle map[string]archived) {
	t.Helper()
	seen := make(map[string]int, len(oracle))
	bad := 0
	for _, r := range rows {
		seen[r.ID]++
		want, ok := oracle[r.ID]
		h, hok := archive.HourOfKey(r.key)
		if !ok || !hok || h != archive.HourOf(r.Time.UnixMilli()) || r.Type != want.typ || r.Subject != want.subject || r.Time.UnixMilli() != want.time {
			if bad++; bad <= 5 {
				t.Errorf("row %+v in %s does not match the oracle (%+v, known %v)", r.Row, r.key, want, ok)
			}
		}
	}
	lost, twice := 0, 0
	for id := range oracle {
		switch seen[id] {
		case 1:
		case 0:
			lost++
		default:
			twice++
		}
	}
	t.Logf("archive: %d rows for %d events: %d lost, %d in more than one row, %d wrong", len(rows), len(oracle), lost, twice, bad)
	if lost > 0 || twice > 0 || bad > 0 || len(rows) != len(oracle) {
		t.Fatalf("the archive does not hold every event exactly once")
	}
}

// checkDuckDB reads the archive's live files again, independently, with DuckDB and its Hive
// partition columns.
func checkDuckDB(t *testing.T, dir string, want int) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, ids, misplaced int
	var paths []string
	for _, f := range liveFiles(t, dir) {
		paths = append(paths, "'"+filepath.Join(dir, filepath.FromSlash(f.Key))+"'")
	}
	q := `SELECT count(*), count(DISTINCT id),
		count(*) FILTER (WHERE epoch_ms("time") // 3600000 <> epoch(make_timestamp(year::BIGINT, month::BIGINT, day::BIGINT, hour::BIGINT, 0, 0)) // 3600)
		FROM read_parquet([` + strings.Join(paths, ",") + `], hive_partitioning = true)`
	if err := db.QueryRow(q).Scan(&rows, &ids, &misplaced); err != nil {
		t.Fatal(err)
	}
	t.Logf("duckdb: %d rows, %d distinct ids, %d outside their hour's folder", rows, ids, misplaced)
	if rows != want || ids != want || misplaced != 0 {
		t.Fatalf("duckdb reads %d rows, %d ids, %d misplaced: want %d, %d, 0", rows, ids, misplaced, want, want)
	}
}

// countRange is one /v1/counts question.
type countRange struct {
	typ, subject string
	from, to     time.Time
	step         string
	source       string // the answer's source
}

func countRanges(now time.Time) []countRange {
	return []countRange{
		{typ: "like", from: now.Add(-49 * time.Hour), to: now, step: "1h", source: "both"},
		{typ: "view", subject: "video-7", from: now.Add(-47 * time.Hour), to: now.Add(-25 * time.Hour), source: "archive"},
		{typ: "like", from: now.Add(-30 * time.Hour), to: now.Add(-time.Hour), step: "1m", source: "both"},
		{typ: "view", from: now.Add(-20 * time.Hour), to: now, step: "15m", source: "history"},
		{typ: "like", subject: "video-3", from: now.Add(-23 * time.Hour), to: now, step: "7m", source: "history"},
		{typ: "like", from: now.Add(-72 * time.Hour), to: now, step: "1440m", source: "both"},
	}
}

// historyRanges are the ranges the history answers alone.
func historyRanges(rs []countRange) []countRange {
	var out []countRange
	for _, r := range rs {
		if r.source == "history" {
			out = append(out, r)
		}
	}
	return out
}

// checkArchiveCounts asks each range and compares the total and every point with the oracle.
func checkArchiveCounts(t *testing.T, base string, oracle map[string]archived, ranges []countRange) {
	t.Helper()
	for _, r := range ranges {
		q := url.Values{"type": {r.typ}, "from": {strconv.FormatInt(r.from.UnixMilli(), 10)}, "to": {strconv.FormatInt(r.to.UnixMilli(), 10)}}
		if r.subject != "" {
			q.Set("subject", r.subject)
		}
		if r.step != "" {
			q.Set("step", r.step)
		}
		res, err := http.Get(base + "/v1/counts?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			From, To, Count int64
			Source          string
			Series          []struct{ T, Count int64 }
		}
		err = json.NewDecoder(res.Body).Decode(&c)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("counts %v: status %d, %v", q, res.StatusCode, err)
		}
		count := func(from, to int64) int64 {
			var n int64
			for _, e := range oracle {
				if e.typ == r.typ && (r.subject == "" || e.subject == r.subject) && e.time >= from && e.time < to {
					n++
				}
			}
			return n
		}
		if want := count(c.From, c.To); c.Count != want {
			t.Errorf("counts %v: %d, oracle %d (source %s)", q, c.Count, want, c.Source)
		}
		if c.Source != r.source {
			t.Errorf("counts %v: source %q, want %q", q, c.Source, r.source)
		}
		step, _ := time.ParseDuration(r.step)
		wrong := 0
		for _, pt := range c.Series {
			if want := count(pt.T, min(pt.T+step.Milliseconds(), c.To)); pt.Count != want {
				if wrong++; wrong <= 3 {
					t.Errorf("counts %v: point %d: %d, oracle %d", q, pt.T, pt.Count, want)
				}
			}
		}
		t.Logf("counts %s %s [%s, %s) step %q: %d events, %d points, source %s", r.typ, r.subject,
			time.UnixMilli(c.From).UTC().Format(time.RFC3339), time.UnixMilli(c.To).UTC().Format(time.RFC3339), r.step, c.Count, len(c.Series), c.Source)
	}
}

// runPulse runs one pulse command and returns its output.
func runPulse(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.PulseBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pulse %v: %v\n%s", args, err, tail(string(out), 3000))
	}
	return string(out)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
