import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { useDebounced, usePoll } from '../api/hooks';
import { api, errorText } from '../api/http';
import type { CountsResponse, FailureRecord, SearchResponse, StoredEvent } from '../api/types';
import { Empty, ErrorNotice } from '../components/Notice';
import { ago, dateTime, num, toMillis } from '../lib/format';
import { navigate, useLocationSearch } from '../router';

const PAGE = 20;
const MAX_OFFSET = 100_000;

export const RANGES: Array<{ key: string; label: string; ms?: number }> = [
  { key: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { key: '1h', label: 'Last hour', ms: 3_600_000 },
  { key: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { key: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { key: 'all', label: 'All time' },
  { key: 'custom', label: 'Custom…' },
];

/** The search state, kept in the URL so a search can be shared and survives a reload. */
export interface SearchState {
  tab: 'events' | 'failures';
  q: string;
  types: string[];
  stages: string[];
  subject: string;
  range: string;
  from: string; // datetime-local, for custom
  to: string;
  sort: 'time:desc' | 'time:asc';
  offset: number;
}

export function readState(search: string): SearchState {
  const p = new URLSearchParams(search);
  return {
    tab: p.get('tab') === 'failures' ? 'failures' : 'events',
    q: p.get('q') ?? '',
    types: p.getAll('type'),
    stages: p.getAll('stage'),
    subject: p.get('subject') ?? '',
    range: RANGES.some((r) => r.key === p.get('range')) ? p.get('range')! : 'all',
    from: p.get('from') ?? '',
    to: p.get('to') ?? '',
    sort: p.get('sort') === 'time:asc' ? 'time:asc' : 'time:desc',
    offset: Math.min(MAX_OFFSET, Math.max(0, Number(p.get('offset')) || 0)),
  };
}

export function writeState(s: SearchState): string {
  const p = new URLSearchParams();
  if (s.tab !== 'events') p.set('tab', s.tab);
  if (s.q) p.set('q', s.q);
  s.types.forEach((t) => p.append('type', t));
  s.stages.forEach((t) => p.append('stage', t));
  if (s.subject) p.set('subject', s.subject);
  if (s.range !== 'all') p.set('range', s.range);
  if (s.range === 'custom') {
    if (s.from) p.set('from', s.from);
    if (s.to) p.set('to', s.to);
  }
  if (s.sort !== 'time:desc') p.set('sort', s.sort);
  if (s.offset) p.set('offset', String(s.offset));
  const q = p.toString();
  return q ? `?${q}` : '';
}

/** queryOf turns the state into /v1/search parameters, at time now. */
export function queryOf(s: SearchState, now: number): Record<string, string | number | string[] | undefined> {
  const r = RANGES.find((x) => x.key === s.range);
  let from: string | number | undefined;
  let to: string | number | undefined;
  if (r?.ms) from = now - r.ms;
  if (s.range === 'custom') {
    from = s.from ? new Date(s.from).getTime() || undefined : undefined;
    to = s.to ? new Date(s.to).getTime() || undefined : undefined;
  }
  return {
    q: s.q.trim() || undefined,
    type: s.types,
    stage: s.tab === 'failures' ? s.stages : undefined,
    subject: s.subject.trim() || undefined,
    from,
    to,
    sort: s.sort,
    limit: PAGE,
    offset: s.offset,
  };
}

export function Search() {
  const search = useLocationSearch();
  const state = useMemo(() => readState(search), [search]);
  const update = (patch: Partial<SearchState>) => navigate(`/search${writeState({ ...state, offset: 0, ...patch })}`, true);
  const tab = (t: SearchState['tab']) => navigate(`/search${writeState({ ...state, tab: t, offset: 0, stages: [] })}`);

  return (
    <div className="search">
      <div className="page-head">
        <div>
          <h1>Search</h1>
          <p className="muted">Every event Pulse took, searchable seconds after it arrived; and everything that failed.</p>
        </div>
      </div>
      <div
        className="tabs"
        role="tablist"
        aria-label="What to search"
        onKeyDown={(e) => {
          // The tab pattern: arrows move between tabs, Tab moves into the panel.
          if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
          const next = state.tab === 'events' ? 'failures' : 'events';
          tab(next);
          requestAnimationFrame(() => document.getElementById(`tab-${next}`)?.focus());
        }}
      >
        <TabButton active={state.tab === 'events'} onClick={() => tab('events')} id="tab-events">
          Events
        </TabButton>
        <TabButton active={state.tab === 'failures'} onClick={() => tab('failures')} id="tab-failures">
          Failures
        </TabButton>
      </div>
      <div role="tabpanel" aria-labelledby={state.tab === 'events' ? 'tab-events' : 'tab-failures'}>
        <SearchPanel key={state.tab} state={state} update={update} />
      </div>
    </div>
  );
}

function TabButton({ active, onClick, id, children }: { active: boolean; onClick(): void; id: string; children: ReactNode }) {
  return (
    <button type="button" role="tab" id={id} aria-selected={active} tabIndex={active ? 0 : -1} className="tab" onClick={onClick}>
      {children}
    </button>
  );
}

type Hit = StoredEvent & Partial<Pick<FailureRecord, 'stage' | 'reason'>>;

function SearchPanel({ state, update }: { state: SearchState; update(p: Partial<SearchState>): void }) {
  const failures = state.tab === 'failures';
  const [text, setText] = useState(state.q);
  const [subject, setSubject] = useState(state.subject);
  const q = useDebounced(text, 250);
  const subj = useDebounced(subject, 300);
  useEffect(() => {
    if (q !== state.q || subj !== state.subject) update({ q, subject: subj });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q, subj]);

  const stateKey = writeState(state);
  // Failures without a query list the failure stream itself: exactly what can be replayed.
  // A query searches the failure history, which keeps records already replayed.
  const streamMode = failures && !state.q && !state.subject && !state.types.length && !state.stages.length && state.range === 'all';
  const res = usePoll(
    (signal) =>
      streamMode
        ? Promise.resolve(undefined)
        : api<SearchResponse<Hit>>(failures ? '/v1/search/failures' : '/v1/search', { query: queryOf(state, Date.now()), signal }),
    failures ? 10_000 : 0,
    [stateKey],
  );
  const [selected, setSelected] = useState<Hit | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [replays, setReplays] = useState(0);
  useEffect(() => setSelected(null), [stateKey]);

  const data = res.data;
  const facetTypes = useMemo(() => {
    const f = { ...(data?.facets?.type ?? {}) };
    for (const t of state.types) f[t] ??= 0;
    return Object.entries(f).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }, [data, state.types]);
  const facetStages = useMemo(() => Object.entries(data?.facets?.stage ?? {}).sort((a, b) => b[1] - a[1]), [data]);
  const toggle = (list: string[], v: string) => (list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);

  const total = data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const page = Math.floor(state.offset / PAGE) + 1;

  return (
    <div className="search-layout">
      <div className="search-bar">
        <label className="search-box">
          <span className="sr-only">{failures ? 'Search failures' : 'Search events'}</span>
          <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18">
            <path fill="currentColor" d="M10 2a8 8 0 0 1 6.3 12.9l5.4 5.4-1.4 1.4-5.4-5.4A8 8 0 1 1 10 2Zm0 2a6 6 0 1 0 0 12 6 6 0 0 0 0-12Z" />
          </svg>
          <input
            type="search"
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder={failures ? 'Words of a reason, stage, type or payload' : 'Words of a type, subject or payload'}
            autoFocus
          />
        </label>
        <div className="filters">
          <label className="inline-field">
            <span>Subject</span>
            <input value={subject} onChange={(e) => setSubject(e.target.value)} placeholder="exact, e.g. video-1" />
          </label>
          <label className="inline-field">
            <span>Time</span>
            <select value={state.range} onChange={(e) => update({ range: e.target.value })}>
              {RANGES.map((r) => (
                <option key={r.key} value={r.key}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
          {state.range === 'custom' && (
            <>
              <label className="inline-field">
                <span>From</span>
                <input type="datetime-local" step={1} value={state.from} onChange={(e) => update({ from: e.target.value })} />
              </label>
              <label className="inline-field">
                <span>To</span>
                <input type="datetime-local" step={1} value={state.to} onChange={(e) => update({ to: e.target.value })} />
              </label>
            </>
          )}
          <label className="inline-field">
            <span>Sort</span>
            <select value={state.sort} onChange={(e) => update({ sort: e.target.value as SearchState['sort'] })}>
              <option value="time:desc">Newest first</option>
              <option value="time:asc">Oldest first</option>
            </select>
          </label>
        </div>
      </div>

      <aside className="facets" aria-label="Filters" hidden={streamMode}>
        <Facet title="Type" entries={facetTypes} selected={state.types} onToggle={(t) => update({ types: toggle(state.types, t) })} />
        {failures && (
          <Facet title="Stage" entries={facetStages} selected={state.stages} onToggle={(t) => update({ stages: toggle(state.stages, t) })} />
        )}
      </aside>

      <section className="results" aria-label="Results" aria-busy={res.loading}>
        {failures && <ReplayBar picked={picked} onDone={() => { setPicked(new Set()); res.refresh(); setReplays((n) => n + 1); }} />}
        {streamMode ? (
          <FailureStream
            key={replays}
            selected={selected}
            onOpen={setSelected}
            picked={picked}
            onPick={(id) => setPicked((p) => new Set(toggle([...p], id)))}
          />
        ) : (
          <>
            {failures && <p className="muted small">Searching the failure history: records already replayed still show here.</p>}
            {res.error !== null && <ErrorNotice error={res.error} onRetry={res.refresh} what={failures ? 'failures' : 'search results'} />}
            {data && (
              <p className="muted small result-count" role="status">
                {total === 0 ? 'No matches' : `${num(state.offset + 1)}–${num(Math.min(total, state.offset + PAGE))} of ${num(total)}`}
                {data.took_ms !== undefined && ` · ${data.took_ms} ms`}
                {res.loading && ' · searching…'}
                <button type="button" className="link-button" onClick={res.refresh}>
                  Refresh
                </button>
              </p>
            )}
            {data && data.hits.length === 0 && !res.loading && (
              <Empty title={failures ? 'No failures match' : 'No events match'}>
                {state.q
                  ? 'Words match whole words of the type, subject or data. Try fewer words or a wider time range.'
                  : failures
                    ? 'Nothing failed in this range.'
                    : 'Publish some events, or widen the time range.'}
              </Empty>
            )}
            {data && data.hits.length > 0 && (
              <ul className="hits">
                {data.hits.map((h) => (
                  <HitRow
                    key={h.id}
                    hit={h}
                    active={selected?.id === h.id}
                    onOpen={() => setSelected(h)}
                    pick={failures ? { on: picked.has(h.id), toggle: () => setPicked((p) => new Set(toggle([...p], h.id))) } : undefined}
                  />
                ))}
              </ul>
            )}
            {data && total > PAGE && (
              <nav className="pager" aria-label="Pages">
                <button type="button" className="btn btn-small" disabled={page <= 1} onClick={() => update({ offset: Math.max(0, state.offset - PAGE) })}>
                  ← Previous
                </button>
                <span>
                  Page {num(page)} of {num(pages)}
                </span>
                <button
                  type="button"
                  className="btn btn-small"
                  disabled={page >= pages || state.offset + PAGE > MAX_OFFSET}
                  onClick={() => update({ offset: state.offset + PAGE })}
                >
                  Next →
                </button>
              </nav>
            )}
            {!failures && state.types.length === 1 && (
              // Search keeps PULSE_SEARCH_RETENTION of events; /v1/counts reaches further back.
              <ArchiveCount key={`${state.types[0]}\n${state.subject.trim()}`} type={state.types[0]!} subject={state.subject.trim()} />
            )}
          </>
        )}
      </section>

      {selected && <Detail hit={selected} onClose={() => setSelected(null)} />}
    </div>
  );
}

function Facet({ title, entries, selected, onToggle }: { title: string; entries: Array<[string, number]>; selected: string[]; onToggle(v: string): void }) {
  return (
    <fieldset className="facet">
      <legend>{title}</legend>
      {entries.length === 0 && <p className="muted small">—</p>}
      {entries.map(([v, n]) => (
        <label key={v} className="facet-row">
          <input type="checkbox" checked={selected.includes(v)} onChange={() => onToggle(v)} disabled={v === ''} />
          <span className="facet-name">{v || '(none)'}</span>
          <span className="facet-count">{num(n)}</span>
        </label>
      ))}
    </fieldset>
  );
}

function HitRow({ hit, active, onOpen, pick }: { hit: Hit; active: boolean; onOpen(): void; pick?: { on: boolean; toggle(): void } }) {
  const preview = hit.reason ?? (hit.data && Object.keys(hit.data).length ? JSON.stringify(hit.data) : '');
  return (
    <li className={`hit${active ? ' active' : ''}`} data-id={hit.id}>
      {pick && (
        <input type="checkbox" checked={pick.on} onChange={pick.toggle} aria-label={`Select failure ${hit.id} for replay`} />
      )}
      <button type="button" className="hit-main" onClick={onOpen} aria-expanded={active}>
        <span className="hit-top">
          <code className="type-tag">{hit.type || '—'}</code>
          {hit.stage && <span className="pill pill-bad">{hit.stage}</span>}
          <span className="hit-subject">{hit.subject}</span>
          <time className="muted small" dateTime={new Date(toMillis(hit.time) ?? 0).toISOString()} title={dateTime(hit.time)}>
            {ago(hit.time)}
          </time>
        </span>
        {preview && <span className="hit-preview">{preview}</span>}
      </button>
    </li>
  );
}

function Detail({ hit, onClose }: { hit: Hit; onClose(): void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [copied, setCopied] = useState(false);
  useEffect(() => ref.current?.focus(), [hit]);
  const json = JSON.stringify(hit, null, 2);
  const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
  return (
    <aside className="detail panel" aria-label="Event detail" tabIndex={-1} ref={ref} onKeyDown={onKey}>
      <header className="panel-head">
        <h2>{hit.stage ? 'Failure' : 'Event'}</h2>
        <div className="row">
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => navigator.clipboard?.writeText(json).then(() => setCopied(true), () => setCopied(false))}
          >
            {copied ? 'Copied' : 'Copy JSON'}
          </button>
          <button type="button" className="btn btn-ghost btn-small" onClick={onClose} aria-label="Close detail">
            ✕
          </button>
        </div>
      </header>
      <dl className="kv">
        <dt>id</dt>
        <dd>
          <code>{hit.id}</code>
        </dd>
        <dt>time</dt>
        <dd>{dateTime(hit.time)}</dd>
        {hit.received !== undefined && (
          <>
            <dt>received</dt>
            <dd>{dateTime(hit.received)}</dd>
          </>
        )}
        {hit.reason && (
          <>
            <dt>reason</dt>
            <dd>{hit.reason}</dd>
          </>
        )}
      </dl>
      <pre className="code json">{json}</pre>
    </aside>
  );
}

/** The ranges the archive count offers; each ends now. */
export const ARCHIVE_RANGES: Array<{ key: string; label: string; days: number }> = [
  { key: '7d', label: 'last 7 days', days: 7 },
  { key: '30d', label: 'last 30 days', days: 30 },
  { key: '90d', label: 'last 90 days', days: 90 },
  { key: '365d', label: 'last 365 days', days: 365 },
];

/** archiveCountText is what the archive count shows for an answer of /v1/counts. */
export function archiveCountText(r: Pick<CountsResponse, 'count' | 'source'>): string {
  const n = `${num(r.count)} event${r.count === 1 ? '' : 's'}`;
  return r.source ? `${n} (source: ${r.source})` : n;
}

/**
 * ArchiveCount counts one type's events (of one subject, if the search names one) over a range
 * that may reach past search retention: /v1/counts answers such ranges from the archive.
 */
export function ArchiveCount({ type, subject }: { type: string; subject: string }) {
  const [range, setRange] = useState('90d');
  const [asked, setAsked] = useState(false);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const ctrl = useRef<AbortController | null>(null);
  useEffect(() => () => ctrl.current?.abort(), []);
  const count = async (key: string) => {
    const days = ARCHIVE_RANGES.find((r) => r.key === key)?.days ?? 90;
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    setAsked(true);
    setBusy(true);
    setMsg(null);
    const to = Date.now();
    try {
      const r = await api<CountsResponse>('/v1/counts', {
        query: { type, subject: subject || undefined, from: to - days * 86_400_000, to },
        signal: c.signal,
      });
      if (ctrl.current === c) setMsg({ ok: true, text: archiveCountText(r) });
    } catch (e) {
      if (ctrl.current === c && !(e instanceof DOMException && e.name === 'AbortError')) setMsg({ ok: false, text: errorText(e) });
    } finally {
      if (ctrl.current === c) setBusy(false);
    }
  };
  return (
    <section className="archive-count muted small" aria-label="Count from the archive">
      <button type="button" className="link-button" onClick={() => count(range)}>
        Older than search retention? Count from the archive
      </button>
      <label className="inline-field">
        <span>Range</span>
        <select
          value={range}
          onChange={(e) => {
            setRange(e.target.value);
            // Once a count is shown, a new range counts again rather than leave a stale answer.
            if (asked) void count(e.target.value);
          }}
        >
          {ARCHIVE_RANGES.map((r) => (
            <option key={r.key} value={r.key}>
              {r.label}
            </option>
          ))}
        </select>
      </label>
      <span className={msg && !msg.ok ? 'error-text' : undefined} aria-live="polite" data-archive-count>
        {busy ? 'Counting…' : (msg?.text ?? '')}
      </span>
    </section>
  );
}

interface ReplayResult {
  replayed?: Array<{ id: string }>;
  skipped?: Array<{ id: string; reason: string }>;
}

/** replayText says what a replay did: how many went back, and why the others stayed. */
export function replayText(r: ReplayResult): string {
  const n = r.replayed?.length ?? 0;
  let text = n ? `Replayed ${num(n)}: back in their partitions, counted once.` : 'Nothing was replayed.';
  const why = new Map<string, number>();
  for (const s of r.skipped ?? []) why.set(s.reason, (why.get(s.reason) ?? 0) + 1);
  for (const [reason, k] of why) text += ` ${num(k)} left in place (${reason.replaceAll('_', ' ')}).`;
  return text;
}

function ReplayBar({ picked, onDone }: { picked: Set<string>; onDone(): void }) {
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const replay = async (body: { ids: string[] } | { all: true }) => {
    setBusy(true);
    setMsg(null);
    try {
      const r = await api<ReplayResult>('/v1/failures/replay', { body });
      setMsg({ ok: (r.replayed?.length ?? 0) > 0, text: replayText(r) });
      onDone();
    } catch (e) {
      setMsg({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="replay-bar">
      <button type="button" className="btn btn-small" disabled={busy || picked.size === 0} onClick={() => replay({ ids: [...picked] })}>
        Replay selected ({picked.size})
      </button>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        disabled={busy}
        onClick={() => confirm('Replay every failure in the failure stream?') && replay({ all: true })}
      >
        Replay all
      </button>
      {msg && (
        <span className={msg.ok ? 'ok-text small' : 'error-text small'} role="status">
          {msg.text}
        </span>
      )}
    </div>
  );
}

/** failureHit shows a failure record like a search hit; rejected input carries its body, which may name the event. */
export function failureHit(f: FailureRecord): Hit {
  const rec = (f.record ?? {}) as Record<string, unknown>;
  let named: Record<string, unknown> = rec;
  if (typeof rec.body === 'string') {
    try {
      const b = JSON.parse(rec.body);
      if (b && typeof b === 'object' && !Array.isArray(b)) named = b;
    } catch {
      // not JSON: shown as it came
    }
  }
  return {
    id: f.id,
    type: typeof named.type === 'string' ? named.type : '',
    subject: typeof named.subject === 'string' ? named.subject : '',
    time: f.at,
    stage: f.stage,
    reason: f.reason,
    data: { stream: f.stream, entry_id: f.entry_id, record: f.record },
  };
}

function FailureStream(p: { selected: Hit | null; onOpen(h: Hit): void; picked: Set<string>; onPick(id: string): void }) {
  const [limit, setLimit] = useState(50);
  const res = usePoll(
    (signal) => api<{ failures: FailureRecord[]; next_cursor: string }>('/v1/failures', { query: { limit }, signal }),
    10_000,
    [limit],
  );
  const hits = (res.data?.failures ?? []).map(failureHit);
  const more = !!res.data?.next_cursor && limit < 1000;
  return (
    <>
      <p className="muted small result-count" role="status">
        The failure stream: {res.data ? `${num(hits.length)}${more ? '+' : ''} record${hits.length === 1 ? '' : 's'}` : 'loading…'}. Type to search
        the failure history instead.
      </p>
      {res.error !== null && <ErrorNotice error={res.error} onRetry={res.refresh} what="the failure stream" />}
      {res.data && hits.length === 0 && <Empty title="No failures">Nothing is waiting in the failure stream. Everything was applied.</Empty>}
      {hits.length > 0 && (
        <ul className="hits">
          {hits.map((h) => (
            <HitRow key={h.id} hit={h} active={p.selected?.id === h.id} onOpen={() => p.onOpen(h)} pick={{ on: p.picked.has(h.id), toggle: () => p.onPick(h.id) }} />
          ))}
        </ul>
      )}
      {more && (
        <div className="pager">
          <button type="button" className="btn btn-small" onClick={() => setLimit((l) => Math.min(1000, l + 50))}>
            Show more
          </button>
        </div>
      )}
    </>
  );
}
