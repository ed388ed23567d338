import { useState } from 'react';
import type { FailureRecord } from '../../api/types';
import { Empty, ErrorNotice } from '../../components/Notice';
import { num } from '../../lib/format';
import { HitRow } from './HitRow';
import { useFailureStream, type Hit } from './useSearch';

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

/** FailureStream lists the failure stream itself: what a replay can send back. */
export function FailureStream(p: { selected: Hit | null; onOpen(h: Hit): void; picked: Set<string>; onPick(id: string): void }) {
  const [limit, setLimit] = useState(50);
  const res = useFailureStream(limit);
  const hits = (res.data?.failures ?? []).map(failureHit);
  const more = !!res.data?.next_cursor && limit < 1000;
  return (
    <>
      <p className="muted small result-count" role="status">
        The failure stream: {res.data ? `${num(hits.length)}${more ? '+' : ''} record${hits.length === 1 ? '' : 's'}` : 'loading…'}. Type to search
        the failure history instead.
      </p>
      {res.error !== null && <ErrorNotice error={res.error} onRetry={() => void res.refetch()} what="the failure stream" />}
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
