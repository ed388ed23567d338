import { useId, useMemo, useState, type KeyboardEvent } from 'react';
import { useNow } from '../api/hooks';
import { api, ApiError } from '../api/http';
import type { IngestResponse, ItemResult } from '../api/types';
import { ErrorNotice } from '../components/Notice';
import { num } from '../lib/format';
import { isValidType, parseJSON, validateEvent } from '../lib/validate';

const PRESETS: Record<string, object> = {
  video_liked: { type: 'video_liked', subject: 'video-1', data: { source: 'publish-page' } },
  video_viewed: { type: 'video_viewed', subject: 'video-1', data: { seconds: 42, quality: '1080p' } },
  link_clicked: { type: 'link_clicked', subject: 'https://example.com/pricing', data: { campaign: 'spring', position: 3 } },
  session_started: { type: 'session_started', subject: 'user-42', data: { device: 'mobile', country: 'PT' } },
};

export const MAX_ALL = 1000;
/** The deliberately invalid item "Publish all" can add, to show a partial batch. */
export const INVALID_TYPE = 'Not A Valid Type';

function pretty(v: unknown): string {
  return JSON.stringify(v, null, 2);
}

export function newId(): string {
  return `evt-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** batchOf is n copies of base (ids suffixed -1…-n when base has one), plus an invalid one in the middle if asked. */
export function batchOf(base: Record<string, unknown>, n: number, withInvalid: boolean): Array<Record<string, unknown>> {
  const items: Array<Record<string, unknown>> = [];
  for (let i = 1; i <= n; i++) items.push(typeof base.id === 'string' ? { ...base, id: `${base.id}-${i}` } : { ...base });
  if (withInvalid) {
    const bad: Record<string, unknown> = { ...base, type: INVALID_TYPE };
    if (typeof base.id === 'string') bad.id = `${base.id}-invalid`;
    items.splice(Math.floor(items.length / 2), 0, bad);
  }
  return items;
}

interface Receipt {
  items: Array<Record<string, unknown>>;
  res?: IngestResponse;
  error?: unknown;
  at: number;
}

export function Publish() {
  const [text, setText] = useState(() => pretty({ ...PRESETS.video_liked, id: newId() }));
  const [n, setN] = useState(10);
  const [withInvalid, setWithInvalid] = useState(true);
  const [busy, setBusy] = useState(false);
  const [receipt, setReceipt] = useState<Receipt | null>(null);
  const editorId = useId();
  const errorsId = useId();

  const parsed = useMemo(() => parseJSON(text), [text]);
  // A time too far ahead becomes valid as the clock catches up: check again every 10 s.
  const now = useNow(10_000);
  const problems = useMemo(() => (parsed.error ? [] : validateEvent(parsed.value, now)), [parsed, now]);
  const valid = !parsed.error && problems.length === 0;
  const event = valid ? (parsed.value as Record<string, unknown>) : null;
  const [typed, setTyped] = useState('');
  const jsonType = (parsed.value as { type?: unknown } | undefined)?.type;
  const type = typeof jsonType === 'string' ? jsonType : typed;

  // A preset starts from its template; a typed-in type only changes the "type" field.
  const choose = (t: string) => setText(pretty({ ...PRESETS[t], id: newId() }));
  const typeIn = (t: string) => {
    setTyped(t);
    if (!parsed.error && parsed.value && typeof parsed.value === 'object') setText(pretty({ ...(parsed.value as object), type: t }));
  };

  const send = async (items: Array<Record<string, unknown>>, one: boolean) => {
    setBusy(true);
    try {
      const res = await api<IngestResponse>('/v1/events', { body: one ? items[0] : items });
      setReceipt({ items, res, at: Date.now() });
    } catch (error) {
      // A 400 where every item was rejected still answers per item.
      const results = error instanceof ApiError ? (error.details as { results?: ItemResult[] } | undefined)?.results : undefined;
      if (Array.isArray(results)) {
        setReceipt({ items, at: Date.now(), error, res: { accepted: 0, duplicates: 0, rejected: results.length, results } });
      } else setReceipt({ items, error, at: Date.now() });
    } finally {
      setBusy(false);
    }
  };

  const publishOne = () => event && send([event], true);
  const publishAll = () => event && send(batchOf(event, n, withInvalid), false);
  const onKey = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      e.preventDefault();
      void publishOne();
    }
  };

  return (
    <div className="publish">
      <div className="page-head">
        <div>
          <h1>Publish events</h1>
          <p className="muted">
            Send one event, or a batch of them the way a client batches clicks, and see what Pulse answers for each.
          </p>
        </div>
      </div>

      <div className="two-col">
        <section className="panel" aria-labelledby="event-title">
          <h2 id="event-title">Event</h2>
          <div className="field">
            <span id="type-label">Type</span>
            <div className="chips" role="group" aria-labelledby="type-label">
              {Object.keys(PRESETS).map((t) => (
                <button key={t} type="button" className="chip" aria-pressed={type === t} onClick={() => choose(t)}>
                  {t}
                </button>
              ))}
              <input
                className="chip-input"
                placeholder="or type one: order_placed"
                aria-label="Other event type"
                value={PRESETS[type] ? '' : type}
                onChange={(e) => typeIn(e.target.value)}
                aria-invalid={!PRESETS[type] && type !== '' && !isValidType(type)}
              />
            </div>
          </div>

          <label className="field" htmlFor={editorId}>
            <span>
              JSON <span className="muted small">(Ctrl+Enter publishes)</span>
            </span>
          </label>
          <textarea
            id={editorId}
            className={`code editor${valid ? '' : ' invalid'}`}
            rows={12}
            spellCheck={false}
            value={text}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={onKey}
            aria-invalid={!valid}
            aria-describedby={errorsId}
          />
          <div id={errorsId} aria-live="polite">
            {parsed.error && (
              <p className="field-error" data-field="json">
                JSON syntax{parsed.error.line ? ` (line ${parsed.error.line}, column ${parsed.error.column})` : ''}: {parsed.error.message}
              </p>
            )}
            {problems.map((p) => (
              <p key={p.field + p.message} className="field-error" data-field={p.field}>
                {p.field ? <code>{p.field}</code> : null} {p.message}
              </p>
            ))}
            {valid && <p className="field-ok">Valid event</p>}
          </div>
          <div className="row">
            <button type="button" className="btn btn-ghost btn-small" disabled={!!parsed.error} onClick={() => setText(pretty(parsed.value))}>
              Format
            </button>
            <button
              type="button"
              className="btn btn-ghost btn-small"
              disabled={!!parsed.error || typeof parsed.value !== 'object'}
              onClick={() => setText(pretty({ ...(parsed.value as object), id: newId() }))}
            >
              New id
            </button>
            <span className="spacer" />
            <button type="button" className="btn btn-primary" onClick={publishOne} disabled={!valid || busy}>
              Publish
            </button>
          </div>

          <fieldset className="bulk">
            <legend>Publish all</legend>
            <p className="muted small">
              A batch of copies of this event in one request{event?.id ? ' (ids suffixed -1, -2, …)' : ''}.
            </p>
            <div className="row wrap">
              <label className="inline-field">
                <span>Events</span>
                <input
                  type="number"
                  min={1}
                  max={MAX_ALL}
                  value={n}
                  onChange={(e) => setN(Math.min(MAX_ALL, Math.max(1, Number(e.target.value) || 1)))}
                />
              </label>
              <label className="check">
                <input type="checkbox" checked={withInvalid} onChange={(e) => setWithInvalid(e.target.checked)} />
                add one invalid item
              </label>
              <span className="spacer" />
              <button type="button" className="btn" onClick={publishAll} disabled={!valid || busy}>
                Publish all ({n + (withInvalid ? 1 : 0)})
              </button>
            </div>
          </fieldset>
        </section>

        <section className="panel" aria-labelledby="receipts-title" aria-busy={busy}>
          <h2 id="receipts-title">Receipts</h2>
          {!receipt && <p className="muted">Publish something: each item's answer shows up here.</p>}
          {receipt && <Receipts r={receipt} />}
        </section>
      </div>
    </div>
  );
}

function Receipts({ r }: { r: Receipt }) {
  const res = r.res;
  return (
    <div className="receipts" data-at={r.at}>
      {r.error !== undefined && !res && <ErrorNotice error={r.error} what="" />}
      {res && (
        <>
          <div className="summary" role="status">
            <span className="pill pill-ok">{num(res.accepted)} accepted</span>
            <span className="pill pill-dup">{num(res.duplicates)} duplicate</span>
            <span className="pill pill-bad">{num(res.rejected)} rejected</span>
          </div>
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {res.results.map((item, i) => {
                  const ev = r.items[i] ?? {};
                  return (
                    <tr key={i} className={`status-${item.status}`} data-status={item.status}>
                      <td className="num-cell">{i + 1}</td>
                      <td>
                        <code>{String(ev.type ?? '')}</code> · {String(ev.subject ?? '')}
                      </td>
                      <td>
                        <span className={`pill pill-${item.status === 'accepted' ? 'ok' : item.status === 'duplicate' ? 'dup' : 'bad'}`}>{item.status}</span>
                      </td>
                      <td className="detail">
                        {item.status === 'rejected' ? (
                          <>
                            <code>{item.error?.code}</code> {item.error?.message}
                          </>
                        ) : (
                          <code className="muted">{item.id}</code>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </div>
  );
}
