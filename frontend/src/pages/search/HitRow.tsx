import { ago, dateTime, toMillis } from '../../lib/format';
import { Marked } from './Marked';
import type { Hit } from './useSearch';

/** preview is one line of what a hit carries: a failure's reason, or the event's data. */
export function preview(hit: Hit): string {
  return hit.reason ?? (hit.data && Object.keys(hit.data).length ? JSON.stringify(hit.data) : '');
}

export function HitRow({ hit, active, onOpen, pick }: { hit: Hit; active: boolean; onOpen(): void; pick?: { on: boolean; toggle(): void } }) {
  const text = preview(hit);
  const hl = hit.highlights;
  return (
    <li className={`hit${active ? ' active' : ''}`} data-id={hit.id}>
      {pick && <input type="checkbox" checked={pick.on} onChange={pick.toggle} aria-label={`Select failure ${hit.id} for replay`} />}
      <button type="button" className="hit-main" onClick={onOpen} aria-expanded={active}>
        <span className="hit-top">
          <code className="type-tag">{hit.type ? <Marked text={hit.type} words={hl?.type} /> : '—'}</code>
          {hit.stage && <span className="pill pill-bad">{hit.stage}</span>}
          <span className="hit-subject">
            <Marked text={hit.subject} words={hl?.subject} />
          </span>
          <time className="muted small" dateTime={new Date(toMillis(hit.time) ?? 0).toISOString()} title={dateTime(hit.time)}>
            {ago(hit.time)}
          </time>
        </span>
        <code className="hit-id muted small">
          <Marked text={hit.id} words={hl?.id} />
        </code>
        {text && (
          <span className="hit-preview">
            <Marked text={text} words={hl?.text} />
          </span>
        )}
      </button>
    </li>
  );
}
