package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
)

// parseConfig fills app.Config from flags, then PULSE_* variables, then defaults. Every flag
// --some-name has the variable PULSE_SOME_NAME.
// extra adds a command's own flags.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer, extra ...func(*flag.FlagSet)) (app.Config, *flag.FlagSet, error) {
	c := app.Defaults()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	p := &parser{fs: fs, getenv: getenv}

	p.list(&c.Roles, "roles", c.Roles, "roles to run: all, or any of ingest,counter,live,indexer,archiver,mqtt (all includes mqtt when an MQTT URL is set)")
	p.str(&c.Addr, "addr", c.Addr, "HTTP listen address")
	p.str(&c.AdminAddr, "admin-addr", c.AdminAddr, "pprof listen address (empty: off)")
	p.str(&c.RedisURL, "redis-url", c.RedisURL, "Redis URL; several comma-separated for a Redis Cluster")
	p.dur(&c.RedisTimeout, "redis-timeout", c.RedisTimeout, "longest wait for one Redis read or write; a later reply counts as lost")
	p.int(&c.Partitions, "partitions", c.Partitions, "stream partitions N (fixed when a deployment is created)")
	p.str(&c.DataDir, "data-dir", c.DataDir, "directory for local data (embedded search index)")
	p.str(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	p.list(&c.APIKeys, "api-keys", nil, "comma-separated API keys with full access (unset: open)")
	p.list(&c.BrowserKeys, "browser-keys", nil, "comma-separated keys a web page may hold: read, send events and likes")
	p.list(&c.AllowedOrigins, "allowed-origins", nil, "origins allowed besides the same origin (host patterns, e.g. localhost:5173)")

	p.dur(&c.Ingest.DedupeTTL, "dedupe-ttl", c.Ingest.DedupeTTL, "how long a client event id is remembered (≥ the longest window)")
	p.int64(&c.Ingest.MaxBody, "max-body", c.Ingest.MaxBody, "largest request body in bytes")
	p.int(&c.Ingest.MaxBatch, "max-batch", c.Ingest.MaxBatch, "most events in one request")
	p.dur(&c.MaxFuture, "max-future", c.MaxFuture, "how far in the future an event time may be")
	p.int(&c.Ingest.MaxTypes, "max-types", c.Ingest.MaxTypes, "most distinct event types (types idle for 24 h are forgotten); negative = no limit")
	p.int64(&c.Ingest.MaxBacklog, "max-backlog", c.Ingest.MaxBacklog, "stream entries per partition before ingest answers 503")
	p.int64(&c.Consumers.FailedMaxLen, "failed-max-len", c.Consumers.FailedMaxLen, "dead letters kept in pulse:failed; when full, failing entries stay pending (alarm: pulse_consumer_dead_letter_refused_total)")
	p.int(&c.Ingest.WaitReplicas, "ingest-wait-replicas", c.Ingest.WaitReplicas, "answer 202 only once WAIT confirmed the append on this many replicas (0: no wait; see docs/operations.md, Redis Cluster)")
	p.dur(&c.Ingest.WaitTimeout, "ingest-wait-timeout", c.Ingest.WaitTimeout, "longest WAIT for replicas; later, the events are answered unconfirmed (503)")
	p.int64(&c.Ingest.RejectedMaxLen, "rejected-max-len", c.Ingest.RejectedMaxLen, "rejected input items kept in pulse:rejected (oldest trimmed first)")

	p.dur(&c.Consumers.ClaimIdle, "claim-idle", c.Consumers.ClaimIdle, "idle time after which a crashed consumer's entries are reclaimed")
	p.int(&c.Consumers.MaxDeliveries, "max-deliveries", c.Consumers.MaxDeliveries, "deliveries before an entry goes to the failure stream")
	p.str(&c.Consumers.Consumer, "consumer-name", c.Consumers.Consumer, "name in the consumer groups, stable across restarts (default: the host name)")
	p.str(&c.Windows, "windows", c.Windows, "rolling windows, shortest first")
	p.dur(&c.Counter.HistoryRetention, "history-retention", c.Counter.HistoryRetention, "how long per-minute history is kept")

	p.dur(&c.Live.Interval, "live-interval", c.Live.Interval, "least time between two updates of one live subscription")
	p.dur(&c.Live.PresenceInterval, "live-presence-interval", c.Live.PresenceInterval, "how often live processes share who is watching which subject")
	p.dur(&c.Live.PingInterval, "live-ping-interval", c.Live.PingInterval, "how often a live WebSocket is pinged (an SSE stream gets a comment): finds vanished peers, keeps proxies from closing idle streams")
	p.dur(&c.Live.SlowTimeout, "live-slow-timeout", c.Live.SlowTimeout, "a live client slower than this to answer a ping or take a frame is closed (1008)")

	p.str(&c.Meili.URL, "meili-url", c.Meili.URL, "Meilisearch URL (unset: embedded Bleve index)")
	p.str(&c.Meili.Key, "meili-key", c.Meili.Key, "Meilisearch API key")
	p.dur(&c.Indexer.Retention, "search-retention", c.Indexer.Retention, "how long events stay searchable")
	p.int(&c.Indexer.Batch, "index-batch", c.Indexer.Batch, "most events per indexing batch")
	p.dur(&c.Indexer.Wait, "index-wait", c.Indexer.Wait, "longest wait to fill an indexing batch")

	p.str(&c.ArchiveURL, "archive-url", c.ArchiveURL, "where the archive goes: a folder, file:///path or s3://bucket?endpoint=…&region=… (off: no archive)")
	p.dur(&c.Archiver.Roll, "archive-roll", c.Archiver.Roll, "longest time an event waits in memory before its archive file is written")
	p.dur(&c.Archiver.CompactAfter, "archive-compact-after", c.Archiver.CompactAfter, "how long after an event hour ends its small archive files are merged into one per partition")
	p.dur(&c.Archiver.Lease, "archive-lease", c.Archiver.Lease, "how long a partition's archive stays with a process that stopped renewing its lease (a killed one)")
	p.int(&c.Archiver.RollBytes, "archive-roll-bytes", c.Archiver.RollBytes, "a partition's archive file is written once its events hold this many bytes in memory")

	p.str(&c.MQTT.URL, "mqtt-url", c.MQTT.URL, "MQTT 5 broker to take events from: mqtt://[user:password@]host[:1883] or mqtts:// (unset: no mqtt role in all)")
	p.str(&c.MQTT.Filter, "mqtt-filter", c.MQTT.Filter, "topic filter, subscribed as $share/<mqtt-share>/<filter>")
	p.str(&c.MQTT.Share, "mqtt-share", c.MQTT.Share, "shared-subscription group: the processes of one group split the messages (off: a plain subscription, docs/mqtt.md)")
	p.str(&c.MQTT.ClientID, "mqtt-client-id", c.MQTT.ClientID, "the broker session's client id, stable across restarts (default: <prefix>-<n>, n the lowest slot free in the data folder)")
	p.str(&c.MQTT.ClientPrefix, "mqtt-client-prefix", c.MQTT.ClientPrefix, "client id prefix")
	p.dur(&c.MQTT.SessionExpiry, "mqtt-session-expiry", c.MQTT.SessionExpiry, "how long the broker keeps a disconnected process's session and its unacknowledged messages")
	p.int(&c.MQTT.InFlight, "mqtt-in-flight", c.MQTT.InFlight, "messages the broker may send before the first is acknowledged (receive maximum)")

	// edge: timeouts, connection caps, security
	p.list(&c.TrustedProxies, "trusted-proxies", nil, "IPs or CIDRs of proxies whose X-Forwarded-For names the client (unset: none, the peer address)")
	p.dur(&c.BodyTimeout, "body-timeout", c.BodyTimeout, "time to receive a request body after its headers (else 408)")
	p.dur(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "time to answer a request that is not a stream, after its headers (plus the body timeout when it has a body)")
	p.dur(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "how long a keep-alive connection may wait for its next request")
	p.int(&c.Live.MaxConns, "live-max-conns", c.Live.MaxConns, "WebSocket and SSE connections per process (past it: 503)")
	p.int(&c.Live.MaxConnsPerAddr, "live-max-conns-per-addr", c.Live.MaxConnsPerAddr, "WebSocket and SSE connections per client address (past it: 429)")

	for _, add := range extra {
		add(fs)
	}
	if p.err != nil {
		return c, fs, p.err
	}
	if err := fs.Parse(args); err != nil {
		return c, fs, err
	}
	if fs.NArg() > 0 {
		return c, fs, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return c, fs, nil
}

func envName(flagName string) string {
	return "PULSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

type parser struct {
	fs     *flag.FlagSet
	getenv func(string) string
	err    error
}

// def returns the variable's value when set, else def; a malformed variable is an error.
func def[T any](p *parser, name string, fallback T, parse func(string) (T, error)) T {
	s := p.getenv(envName(name))
	if s == "" {
		return fallback
	}
	v, err := parse(s)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("%s=%q: %w", envName(name), s, err)
	}
	return v
}

func (p *parser) str(dst *string, name, v, usage string) {
	p.fs.StringVar(dst, name, def(p, name, v, func(s string) (string, error) { return s, nil }), usage+" ["+envName(name)+"]")
}

func (p *parser) int(dst *int, name string, v int, usage string) {
	p.fs.IntVar(dst, name, def(p, name, v, strconv.Atoi), usage+" ["+envName(name)+"]")
}

func (p *parser) int64(dst *int64, name string, v int64, usage string) {
	p.fs.Int64Var(dst, name, def(p, name, v, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }), usage+" ["+envName(name)+"]")
}

func (p *parser) dur(dst *time.Duration, name string, v time.Duration, usage string) {
	p.fs.DurationVar(dst, name, def(p, name, v, time.ParseDuration), usage+" ["+envName(name)+"]")
}

func (p *parser) list(dst *[]string, name string, v []string, usage string) {
	*dst = def(p, name, v, func(s string) ([]string, error) { return splitList(s), nil })
	p.fs.Var((*listValue)(dst), name, usage+" ["+envName(name)+"]")
}

// listValue is a comma-separated flag.
type listValue []string

func (l *listValue) String() string     { return strings.Join(*l, ",") }
func (l *listValue) Set(s string) error { *l = splitList(s); return nil }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
