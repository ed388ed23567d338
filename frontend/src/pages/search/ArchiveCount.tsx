import { useEffect, useRef, useState } from 'react';
import { api, errorText } from '../../api/http';
import type { CountsResponse } from '../../api/types';
import { num } from '../../lib/format';

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
 * that may reach past search retention: /v1/counts answers such ranges from the archive. It
 * asks only when clicked: a count over a year reads the archive.
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
