package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/loadgen"
)

type report struct {
	started, finished     time.Time
	machine               string
	ceilings              [2]ceilings // at the start and at the end of the run
	single, batch         *loadgen.Result
	e2e1k, e2e10k, fanout *loadgen.Result
	presence              []presenceRun
	fanoutRuns            []fanoutRun
	search                []string
	first                 *firstStart
	counter               []string
	mqtt                  []string
	scale                 []*scaleRun
	archive               *archiveRun
}

// ceilings are the rates the ratios are taken against.
type ceilings struct {
	xadd1, xadd64 float64
	bare          *loadgen.Result
}

// xadd64 is the higher of the run's two XADD P64 ceilings.
func (r *report) xadd64() float64 { return max(r.ceilings[0].xadd64, r.ceilings[1].xadd64) }

// bare is the higher of the run's two bare-handler ceilings.
func (r *report) bare() float64 {
	return max(r.ceilings[0].bare.RequestsPerSec, r.ceilings[1].bare.RequestsPerSec)
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Pulse benchmarks")
	p("")
	p("Written by `go tool task bench` on %s (%s). Every figure below comes from that one run,",
		r.finished.UTC().Format("2006-01-02 15:04 MST"), r.finished.Sub(r.started).Round(time.Second))
	p("with the load tool (`pulse bench`) on the same machine as the server, so both share the cores.")
	p("")
	p("**Machine:** %s. Redis with AOF (`appendfsync everysec`).", r.machine)
	p("")
	p("## Ceilings measured in the same run")
	p("")
	p("Each ceiling is measured at the start and again at the end of the run; every ratio below is")
	p("taken against the higher of the two, so a slow minute on this machine cannot flatter it.")
	p("")
	p("| ceiling | at the start | at the end |")
	p("| --- | --- | --- |")
	s, e := r.ceilings[0], r.ceilings[1]
	p("| `redis-benchmark` XADD, 64 clients, unpipelined | %s/s | %s/s |", num(s.xadd1), num(e.xadd1))
	p("| `redis-benchmark` XADD, 64 clients, pipeline depth 64 | %s/s | %s/s |", num(s.xadd64), num(e.xadd64))
	p("| bare `net/http` handler answering 202, 64 connections | %s requests/s (p99 %s) | %s requests/s (p99 %s) |",
		num(s.bare.RequestsPerSec), ms(s.bare.HTTP), num(e.bare.RequestsPerSec), ms(e.bare.HTTP))
	p("")
	p("## Pulse")
	p("")
	p("Ingest runs start `pulse serve --roles ingest`; end-to-end and fan-out runs start")
	p("`--roles ingest,counter,live` (the indexer, which embeds Bleve, runs in its own process in a")
	p("deployment and would otherwise take these cores), with `PULSE_ARCHIVE_URL=off` (no archiver:")
	p("the archive has its own section below). Redis with AOF, as above.")
	p("")
	p("| what | measured | ratio to ceiling | target |")
	p("| --- | --- | --- | --- |")
	p("| single-event ingest, 64 connections | %s events/s, p50 %s, p99 %s | %s of bare net/http | ≥ 70%%, p99 ≤ 10 ms |",
		num(r.single.EventsPerSec), p50(r.single.HTTP), ms(r.single.HTTP), pct(r.single.EventsPerSec, r.bare()))
	p("| batch ingest, 100 events/request, 16 connections | %s events/s, p99 %s | %s of XADD P64 | ≥ 50%% |",
		num(r.batch.EventsPerSec), ms(r.batch.HTTP), pct(r.batch.EventsPerSec, r.xadd64()))
	p("| end-to-end 202 → WebSocket update at 1,000 events/s | p50 %s, p99 %s, max %s; drift %s | — | — |",
		p50(r.e2e1k.E2E), ms(r.e2e1k.E2E), maxMs(r.e2e1k.E2E), drift(r.e2e1k))
	p("| end-to-end at 10,000 events/s for 60 s (achieved %s events/s) | p50 %s, p99 %s, max %s; drift %s | — | p99 ≤ 150 ms, drift 0 |",
		num(r.e2e10k.EventsPerSec), p50(r.e2e10k.E2E), ms(r.e2e10k.E2E), maxMs(r.e2e10k.E2E), drift(r.e2e10k))
	if f := r.fanout.Fanout; f != nil {
		p("| WebSocket connections held on one instance | %d connected, %d failed, %d snapshots, %d update frames | — | 10,000 |",
			f.Connections, f.Failed, f.Snapshots, f.Frames)
	}
	p("")
	r.fanoutSection(p)
	r.counterSection(p)
	r.searchSection(p)
	r.firstStartSection(p)
	r.presenceSection(p)
	r.mqttSection(p)
	r.scaleSection(p)
	r.archiveSection(p)
	p("What the profiles say is left for each goal missed here: [docs/performance.md](docs/performance.md).")
	p("")
	p("## Reproduce")
	p("")
	p("```sh")
	p("go tool task bench            # writes this file (about 30 minutes)")
	p("go run ./cmd/pulse bench --help")
	p("```")
	return b.String()
}

func num(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func pct(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", 100*a/b)
}

func ms(l *loadgen.Latency) string {
	if l == nil || l.Count == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", l.P99)
}

func p50(l *loadgen.Latency) string {
	if l == nil || l.Count == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", l.P50)
}

func maxMs(l *loadgen.Latency) string {
	if l == nil || l.Count == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f ms", l.Max)
}

func drift(r *loadgen.Result) string {
	if len(r.Drift) == 0 {
		return "not checked"
	}
	var parts []string
	for _, d := range r.Drift {
		parts = append(parts, fmt.Sprintf("%s %+d", d.Window, d.Diff))
	}
	return strings.Join(parts, ", ")
}

// scaleSection reports the scale runs: rates on one machine, and the Redis CPU per event,
// which does not depend on the machine's core count and so predicts N masters.
func (r *report) scaleSection(p func(string, ...any)) {
	if len(r.scale) == 0 {
		return
	}
	p("## Redis Cluster: scale, partitions, WAIT")
	p("")
	p("Roles split: a `pulse serve --roles ingest` process loaded with batches of 100 (16 connections,")
	p("full rate), then a `--roles counter` process draining what it appended. Every process and every")
	p("Redis shares the same two cores, so rates compare topologies only within this run; CPU-seconds")
	p("per 1,000 events (`INFO cpu` of each master, `/proc` of each process) do not depend on the cores.")
	p("")
	p("| topology | ingest events/s (p99) | counter drain events/s | Redis CPU-s / 1,000 events: ingest, per master | counter, per master | pulse CPU-s / 1,000 events: ingest, counter |")
	p("| --- | --- | --- | --- | --- | --- |")
	for _, s := range r.scale {
		p("| %s, %d partitions | %s (%s) | %s | %s | %s | %.4f, %.4f |", s.name, s.partitions, num(s.ingest.EventsPerSec), ms(s.ingest.HTTP),
			num(s.drained), cpuList(s.redisIngest), cpuList(s.redisCounter), s.ingestCPU, s.counterCPU)
	}
	one, three := r.scale[0], r.scale[1]
	perEvent := sum(one.redisIngest) + sum(one.redisCounter)
	spread := sum(three.redisIngest) + sum(three.redisCounter)
	busiest := 0.0
	for i := range three.redisIngest {
		busiest = max(busiest, three.redisIngest[i]+three.redisCounter[i])
	}
	p("")
	p("On one master, ingest and counting cost Redis %.4f CPU-seconds per 1,000 events: one Redis core", perEvent)
	p("saturates at about %s events/s ingested and counted, whatever the Pulse processes. The 3-master", num(1000/perEvent))
	p("cluster spent %.4f in all (%s of one master's), its busiest master", spread, pct(spread, perEvent))
	p("%.4f: the busiest master saturates at about %s events/s, %.1f× one master. N masters with", busiest, num(1000/busiest), perEvent/busiest)
	p("balanced partitions predict about N/%d × that, given Pulse processes to match (ingest and counter", 3)
	p("together took %.4f CPU-seconds per 1,000 events).", one.ingestCPU+one.counterCPU)
	p("")
}

func cpuList(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = fmt.Sprintf("%.4f", f)
	}
	return strings.Join(s, " / ")
}

func sum(v []float64) float64 {
	var t float64
	for _, f := range v {
		t += f
	}
	return t
}

// archiveSection: the archive's count queries over one month (docs/archive.md).
func (r *report) archiveSection(p func(string, ...any)) {
	a := r.archive
	if a == nil {
		return
	}
	p("## Archive: counts over one month")
	p("")
	p("%s events spread evenly over November 2026 (4 types, 10,000 subjects, 16 partitions), written as", num(float64(a.events)))
	p("the archiver lays them out, then counted by DuckDB (embedded, `internal/archive`). *like by day*")
	p("is `/v1/counts?type=like&step=1440m` over the month as the API runs it (folders listed, files")
	p("pruned by hour, one query); *every type by day* is one SQL query over the same files. Each time")
	p("is the better of two runs; the ratio is to the same query over the rows in one file.")
	p("")
	p("| layout | files | size | like by day | every type by day |")
	p("| --- | --- | --- | --- | --- |")
	ceil := a.layouts[len(a.layouts)-1]
	for _, l := range a.layouts {
		p("| %s | %s | %.1f MB | %s (%.1f×) | %s (%.1f×) |", l.name, num(float64(l.files)), float64(l.bytes)/1e6,
			l.countAPI.Round(time.Millisecond), float64(l.countAPI)/float64(ceil.countAPI),
			l.byTypeDy.Round(time.Millisecond), float64(l.byTypeDy)/float64(ceil.byTypeDy))
	}
	p("")
	p("Files cost most of the time, not rows: at low rates the default roll writes a small file per")
	p("partition every 5 minutes, and the archiver merges an hour's files into one per partition")
	p("`PULSE_ARCHIVE_COMPACT_AFTER` (10 min) after the hour ends (docs/archive.md). Fewer")
	p("partitions (`PULSE_PARTITIONS`) mean fewer files per hour.")
	p("")
}

// mqttSection: the MQTT intake's rate into Redis beside HTTP batch ingest's, both as shares of
// the XADD ceiling of this run.
func (r *report) mqttSection(p func(string, ...any)) {
	p("## MQTT intake (`go test ./ingest/mqtt -bench Intake`)")
	p("")
	p("Publishers (8 MQTT 5 clients, QoS 1, each waiting for the broker's PUBACK) → Mosquitto 2 → the")
	p("intake (in the benchmark's process, 2 partitions) → Redis with AOF on TCP, all on this machine; an")
	p("op ends when all 200,000 events are in the streams. HTTP batch ingest of this run: %s events/s.", num(r.batch.EventsPerSec))
	p("")
	p("| messages | events/s into Redis | share of XADD P64 | vs HTTP batch ingest |")
	p("| --- | --- | --- | --- |")
	for _, l := range r.mqtt {
		eps := benchMetric(l, "events/s")
		p("| %s | %s | %s | %.2f× |", benchName(l, "BenchmarkIntake"), num(eps), pct(eps, r.xadd64()), eps/r.batch.EventsPerSec)
	}
	p("")
}

// fanoutSection compares the live process with Centrifugo on the same clients and events.
func (r *report) fanoutSection(p func(string, ...any)) {
	if len(r.fanoutRuns) == 0 {
		return
	}
	p("## Live fan-out against Centrifugo")
	p("")
	p("The same WebSocket clients (`pulse bench --fanout`, client *i* subscribed to subject *i* mod 100)")
	p("and the same publisher (events over 100 subjects, Zipf 1.1, what is due every 10 ms in one")
	p("request) against a `pulse serve --roles live` process (`PULSE_LIVE_INTERVAL=1ms`, fed by an")
	p("`ingest,counter` process) and against Centrifugo %s (Redis engine on the same Redis,", strings.TrimPrefix(centrifugoModule, "github.com/centrifugal/centrifugo/v6@"))
	p("insecure client mode, HTTP API batches). Each event must reach every subscriber of its subject:")
	p("Pulse sends counts (a count that grew by 2 delivers 2 events, merged within one change of the")
	p("counter), Centrifugo a publication per event. Latency runs from the publish request to the")
	p("client reading the event, one sample per event and subscriber. CPU is the live process's, or")
	p("Centrifugo's, per 1,000 expected deliveries, from the first publish to the last delivery: the")
	p("same job, letting subscribers know of each event. Pulse also counts each event in Redis (its")
	p("ingest,counter process), which a relay does not do, so that process is not compared. Idle:")
	p("the clients connected and silent for two ping intervals (25 s on both servers).")
	p("")
	p("Goals: at 5,000 clients, Pulse's CPU per 1,000 and its p99 at most Centrifugo's; idle, at most")
	p("0.02 cores per 10,000 connections.")
	p("")
	p("| scenario | server | delivered / expected | frames | latency p50 / p99 / max | CPU s / 1,000 | idle cores |")
	p("| --- | --- | --- | --- | --- | --- | --- |")
	for _, run := range r.fanoutRuns {
		for _, res := range []*loadgen.FanoutResult{run.pulse, run.centrifugo} {
			if res.Events == 0 {
				p("| %s | %s | %d connected | — | — | — | %.3f |", run.name, res.Target, res.Connected, res.IdleCPU)
				continue
			}
			l := res.Latency
			p("| %s (achieved %s/s) | %s | %s / %s (%s) | %s | %.1f / %.1f / %.0f ms | %.4f | — |", run.name, num(res.Rate), res.Target,
				num(float64(res.Delivered)), num(float64(res.Expected)), pct(float64(res.Delivered), float64(res.Expected)),
				num(float64(res.Frames)), l.P50, l.P99, l.Max, res.CPUPerK)
		}
	}
	p("")
}

// benchMetric is the value before unit in a goBench line ("… 172305 events/s …"), or 0.
func benchMetric(line, unit string) float64 {
	f := strings.Fields(line)
	for i := 1; i < len(f); i++ {
		if f[i] == unit {
			v, _ := strconv.ParseFloat(f[i-1], 64)
			return v
		}
	}
	return 0
}

// benchName is a goBench line's sub-benchmark, without the benchmark's name and GOMAXPROCS.
func benchName(line, bench string) string {
	name, _, _ := strings.Cut(line, ": ")
	name = strings.TrimPrefix(name, bench+"/")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		name = name[:i]
	}
	return name
}

// counterSection: the counter's apply rate against the XADD ceiling of this run.
func (r *report) counterSection(p func(string, ...any)) {
	p("## Counter apply rate (`go test ./consumers/counter -bench Apply`)")
	p("")
	p("Entries already in the streams, applied by one or two consumers (each with its own group")
	p("member), Redis with AOF on TCP. Goal: ≥ 0.6 of XADD P64 (%s/s) with 1,000 subjects, ≥ 0.4 with 100,000.", num(r.xadd64()))
	p("")
	p("| run | events/s | Redis µs per event | share of XADD P64 | goal |")
	p("| --- | --- | --- | --- | --- |")
	for _, l := range r.counter {
		name := benchName(l, "BenchmarkApply")
		eps := benchMetric(l, "events/s")
		goal := "≥ 60%"
		if strings.Contains(name, "subjects=100000") {
			goal = "≥ 40%"
		}
		p("| %s | %s | %.2f | %s | %s |", name, num(eps), benchMetric(l, "redis-µs/event"), pct(eps, r.xadd64()), goal)
	}
	p("")
}

// searchSection: the embedded index's indexing rate against what the pipeline sustains.
func (r *report) searchSection(p func(string, ...any)) {
	if len(r.search) == 0 {
		return
	}
	p("## Search indexing, embedded Bleve (`go test ./internal/search -bench Bleve/docs=200000`)")
	p("")
	p("200,000 events indexed in batches of 1,000 (what the indexer sends) into an on-disk index, then a")
	p("mix of API-like queries with the type facet. Goal: indexing keeps up with the 10,000 events/s of")
	p("the end-to-end run above.")
	p("")
	p("| run | indexing events/s | query p50 | query p99 | goal |")
	p("| --- | --- | --- | --- | --- |")
	for _, l := range r.search {
		p("| %s | %s | %.1f ms | %.1f ms | ≥ 10,000/s |", benchName(l, "BenchmarkBleve"), num(benchMetric(l, "index-events/s")),
			benchMetric(l, "p50-ms"), benchMetric(l, "p99-ms"))
	}
	p("")
}

// firstStartSection: a fresh clone's `go tool task up` with empty caches.
func (r *report) firstStartSection(p func(string, ...any)) {
	if r.first == nil {
		return
	}
	p("## First start")
	p("")
	p("`go tool task up` on a fresh clone of %s with empty `GOMODCACHE`, `GOCACHE` and npm cache", r.first.commit)
	p("(modules from the Go proxy, packages from the npm registry; Redis and Node installed), until `GET /`")
	p("serves the built dashboard. Goal: ≤ %s.", firstStartGoal)
	p("")
	p("| task runner built and running | page served | goal |")
	p("| --- | --- | --- |")
	p("| %s | %s | ≤ %s |", r.first.task.Round(time.Second), r.first.page.Round(time.Second), firstStartGoal)
	p("")
}
