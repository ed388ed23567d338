import { Fragment } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/http';
import { keys } from '../api/query';
import type { ArchiveStats, GroupView, MQTTIntake, PipelineView } from '../api/types';
import { LineChart } from '../components/LineChart';
import { ErrorNotice } from '../components/Notice';
import { ago, bytes, dateTime, duration, hour, num, rate } from '../lib/format';
import { Link } from '../router';

/** How old a group's oldest unacknowledged entry may get before it is worth a look. */
interface Limits {
  warnMs: number;
  badMs: number;
}
const APPLY: Limits = { warnMs: 2_000, badMs: 30_000 };
// The archiver acknowledges a partition's entries only once their roll's files are written:
// every PULSE_ARCHIVE_ROLL (5 min by default), so its oldest entry is minutes old by design.
const ROLL: Limits = { warnMs: 7 * 60_000, badMs: 15 * 60_000 };

const GROUPS: Array<{ name: string; label: string; limits: Limits }> = [
  { name: 'counter', label: 'Counter', limits: APPLY },
  { name: 'indexer', label: 'Indexer', limits: APPLY },
  { name: 'archiver', label: 'Archiver', limits: ROLL },
];

/** health classes a group by how far behind it is. */
function health(g: GroupView | undefined, limits: Limits = APPLY): 'ok' | 'warn' | 'bad' {
  if (!g) return 'warn';
  if (g.oldest_ms > limits.badMs) return 'bad';
  if (g.oldest_ms > limits.warnMs || (g.lag ?? 0) > 1000) return 'warn';
  return 'ok';
}

/** A listing older than this means no archiver has published for a while (it lists every minute). */
const STALE_LISTING_MS = 5 * 60_000;

/** The server shows an MQTT client disconnected once its process has not written its totals for this long. */
const STALE_INTAKE_MS = 30_000;

export function Pipeline() {
  const poll = useQuery({ queryKey: keys.pipeline, queryFn: ({ signal }) => api<PipelineView>('/v1/pipeline', { signal }), refetchInterval: 2000 });
  const v = poll.data;
  const series = v?.rates.series ?? [];
  const last = series.at(-1);
  // ?? []: a server from before MQTT intake sends no mqtt field.
  const intakes = v?.mqtt ?? [];
  // Without MQTT clients the MQTT rate is a flat 0: not worth a line or a legend key.
  const mqtt = intakes.length > 0;

  return (
    <div className="pipeline">
      <div className="page-head">
        <div>
          <h1>Pipeline</h1>
          <p className="muted">
            Ingest appends to partition streams; the counter, indexer and archiver groups read every partition. Lag is what a
            group has not read yet, pending what it read but has not applied (the archiver holds a roll of entries until
            their files are written).
          </p>
        </div>
        {v && <span className="muted small">updated {new Date(v.at).toLocaleTimeString()}</span>}
      </div>

      {poll.error !== null && <ErrorNotice error={poll.error} onRetry={() => void poll.refetch()} what="the pipeline" />}
      {!v && poll.error === null && <p className="muted">Loading…</p>}

      {v && (
        <>
          <div className="stats">
            <Stat label="Ingest" value={rate(last?.ingest)} hint="events appended per second" />
            <Stat label="Counter applies" value={rate(last?.counter)} hint={`lag ${num(v.groups.counter?.lag)} · pending ${num(v.groups.counter?.pending)}`} tone={health(v.groups.counter)} />
            <Stat label="Indexer applies" value={rate(last?.indexer)} hint={`lag ${num(v.groups.indexer?.lag)} · pending ${num(v.groups.indexer?.pending)}`} tone={health(v.groups.indexer)} />
            <Stat
              label="Archiver commits"
              value={rate(last?.archiver)}
              hint={`lag ${num(v.groups.archiver?.lag)} · pending ${num(v.groups.archiver?.pending)}${v.groups.archiver?.oldest_ms ? ` · oldest ${duration(v.groups.archiver.oldest_ms)}` : ''}`}
              tone={health(v.groups.archiver, ROLL)}
            />
            <Stat label="Search index lag" value={duration(v.search_lag_ms)} hint="age of the oldest event not yet searchable" tone={health(v.groups.indexer)} />
            <Stat label="In streams" value={num(v.length)} hint={`${v.partitions.length} partitions`} />
            <Stat
              label="Failures"
              value={num(v.failures)}
              hint={<Link to="/search?tab=failures">inspect and replay →</Link>}
              tone={v.failures > 0 ? 'warn' : 'ok'}
            />
          </div>

          <section className="panel" aria-labelledby="rates-title">
            <header className="panel-head">
              <h2 id="rates-title">Rates</h2>
              <div className="legend">
                <span className="key key-ingest">ingest</span>
                <span className="key key-counter">counter</span>
                <span className="key key-indexer">indexer</span>
                <span className="key key-archiver">archiver</span>
                {mqtt && <span className="key key-mqtt">MQTT in</span>}
              </div>
            </header>
            <LineChart
              label={`Events per second over the last minutes: ingest, counter, indexer and archiver${mqtt ? ', and MQTT messages received per second' : ''}`}
              unit="events/s"
              times={series.map((p) => p.t)}
              series={[
                { name: 'ingest', className: 's-ingest', values: series.map((p) => p.ingest), area: true },
                { name: 'counter', className: 's-counter', values: series.map((p) => p.counter) },
                { name: 'indexer', className: 's-indexer', values: series.map((p) => p.indexer) },
                // ?? null: a server without an archiver group sends no archiver rate at all.
                { name: 'archiver', className: 's-archiver', values: series.map((p) => p.archiver ?? null) },
                ...(mqtt ? [{ name: 'MQTT in', className: 's-mqtt', values: series.map((p) => p.mqtt ?? null) }] : []),
              ]}
            />
            <p className="muted small">
              Sampled every {duration(v.rates.interval_ms)} by the process serving this page. The archiver acknowledges a
              roll at a time, so its rate comes in bursts.{mqtt && ' MQTT in counts messages, which may carry several events each.'}
            </p>
          </section>

          <ArchivePanel archive={v.archive ?? null} now={v.at} />

          <MQTTPanel intakes={intakes} now={v.at} />

          <section className="panel" aria-labelledby="parts-title">
            <h2 id="parts-title">Partitions</h2>
            {/* Scrolls sideways on a phone: focusable, so the keyboard can scroll it too. */}
            <div className="table-wrap" tabIndex={0} role="region" aria-label="Partitions table">
              <table className="table partitions">
                <thead>
                  <tr>
                    <th scope="col" rowSpan={2}>
                      Partition
                    </th>
                    <th scope="col" rowSpan={2} className="num-cell">
                      Length
                    </th>
                    <th scope="col" rowSpan={2} className="num-cell">
                      Appended
                    </th>
                    {GROUPS.map((g) => (
                      <th key={g.name} scope="colgroup" colSpan={3} className="group-head">
                        {g.label}
                      </th>
                    ))}
                  </tr>
                  <tr>
                    {GROUPS.map((g) => (
                      <Fragment key={g.name}>
                        <th scope="col" className="num-cell">lag</th>
                        <th scope="col" className="num-cell">pending</th>
                        <th scope="col" className="num-cell">oldest</th>
                      </Fragment>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {v.partitions.map((p) => (
                    <tr key={p.partition} data-partition={p.partition}>
                      <th scope="row">
                        <code>{p.stream}</code>
                      </th>
                      <td className="num-cell">{num(p.length)}</td>
                      <td className="num-cell">{num(p.added)}</td>
                      {GROUPS.map((g) => {
                        const gv = p.groups[g.name];
                        return gv ? (
                          <GroupCells key={g.name} g={gv} limits={g.limits} />
                        ) : (
                          <td key={g.name} colSpan={3} className="muted">
                            no group
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
    </div>
  );
}

function GroupCells({ g, limits }: { g: GroupView; limits: Limits }) {
  return (
    <>
      <td className={`num-cell h-${health(g, limits)}`}>{num(g.lag)}</td>
      <td className="num-cell">{num(g.pending)}</td>
      <td className="num-cell">{g.oldest_ms ? duration(g.oldest_ms) : '—'}</td>
    </>
  );
}

/** ArchivePanel shows the archive's size as an archiver last listed it; now is the server's time. */
export function ArchivePanel({ archive, now }: { archive: ArchiveStats | null; now: number }) {
  const stale = archive !== null && now - archive.at > STALE_LISTING_MS;
  return (
    <section className="panel archive" aria-labelledby="archive-title">
      <header className="panel-head">
        <h2 id="archive-title">Archive</h2>
        {archive && (
          <span
            className={`small ${stale ? 'h-warn' : 'muted'}`}
            title={stale ? `Listed ${dateTime(archive.at)}: is an archiver running?` : dateTime(archive.at)}
            data-listed
          >
            listed {ago(Math.min(archive.at, now), now)}
          </span>
        )}
      </header>
      {archive ? (
        <dl className="kv archive-kv">
          <dt>Size</dt>
          <dd data-archive="bytes">{bytes(archive.bytes)}</dd>
          <dt>Files</dt>
          <dd data-archive="files">{num(archive.files)}</dd>
          <dt>Newest hour</dt>
          <dd data-archive="newest">{archive.newest_hour ? hour(archive.newest_hour) : 'empty'}</dd>
        </dl>
      ) : (
        <p className="muted">No archive listing yet</p>
      )}
    </section>
  );
}

/** MQTTPanel shows each MQTT client's totals as its process last wrote them; now is the server's time. */
export function MQTTPanel({ intakes, now }: { intakes: MQTTIntake[]; now: number }) {
  return (
    <section className="panel mqtt" aria-labelledby="mqtt-title">
      <h2 id="mqtt-title">MQTT intake</h2>
      {intakes.length === 0 ? (
        <p className="muted">
          No MQTT intake: set <code>PULSE_MQTT_URL</code> to take events from a broker (docs/mqtt.md).
        </p>
      ) : (
        <>
          <div className="table-wrap" tabIndex={0} role="region" aria-label="MQTT clients table">
            <table className="table mqtt-clients" aria-labelledby="mqtt-title">
              <thead>
                <tr>
                  <th scope="col">Client</th>
                  <th scope="col">State</th>
                  <th scope="col" className="num-cell">Messages</th>
                  <th scope="col" className="num-cell">Acked</th>
                  <th scope="col" className="num-cell">Redelivered</th>
                  <th scope="col" className="num-cell">Refused</th>
                  <th scope="col" className="num-cell">Retries</th>
                  <th scope="col">Filter</th>
                </tr>
              </thead>
              <tbody>
                {intakes.map((c) => (
                  <tr key={c.client} data-client={c.client}>
                    <th scope="row">
                      <code>{c.client}</code>
                    </th>
                    <IntakeState c={c} now={now} />
                    <td className="num-cell">{num(c.messages)}</td>
                    <td className="num-cell">{num(c.acked)}</td>
                    <td className="num-cell">{num(c.redelivered)}</td>
                    <td className={`num-cell${c.refused > 0 ? ' h-warn' : ''}`}>{num(c.refused)}</td>
                    <td className={`num-cell${c.retries > 0 ? ' h-warn' : ''}`}>{num(c.retries)}</td>
                    <td>
                      <code>{c.filter}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted small">
            Totals since each client's process started. Redelivered: received with the DUP flag (the broker may have sent them
            before). Refused: recorded as failures and acknowledged. Retries: appends Redis could not take, tried again before
            acknowledging.
          </p>
        </>
      )}
    </section>
  );
}

function IntakeState({ c, now }: { c: MQTTIntake; now: number }) {
  if (c.connected) return <td className="h-ok">connected</td>;
  // Fresh totals mean the process runs but has no broker connection; stale ones, that the process went quiet.
  const silent = now - c.at > STALE_INTAKE_MS;
  return (
    <td className={silent ? 'h-bad' : 'h-warn'} title={`Totals written ${dateTime(c.at)}`}>
      disconnected{silent && ` · last seen ${ago(c.at, now)}`}
    </td>
  );
}

function Stat({ label, value, hint, tone }: { label: string; value: string; hint?: React.ReactNode; tone?: 'ok' | 'warn' | 'bad' }) {
  return (
    <div className={`stat${tone ? ` tone-${tone}` : ''}`}>
      <span className="stat-label">{label}</span>
      <span className="stat-value">{value}</span>
      {hint && <span className="stat-hint">{hint}</span>}
    </div>
  );
}
