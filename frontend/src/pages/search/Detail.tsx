import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { dateTime } from '../../lib/format';
import { Marked } from './Marked';
import type { Hit } from './useSearch';

/** eventOf is the hit as stored, without what the search said about it (shown, copied). */
export function eventOf(hit: Hit): Hit {
  const e = { ...hit };
  delete e.highlights;
  return e;
}

export function Detail({ hit, onClose }: { hit: Hit; onClose(): void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [copied, setCopied] = useState(false);
  useEffect(() => ref.current?.focus(), [hit]);
  const json = JSON.stringify(eventOf(hit), null, 2);
  const hl = hit.highlights;
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
          <code>
            <Marked text={hit.id} words={hl?.id} />
          </code>
        </dd>
        <dt>type</dt>
        <dd>
          <code>
            <Marked text={hit.type} words={hl?.type} />
          </code>
        </dd>
        <dt>subject</dt>
        <dd>
          <Marked text={hit.subject} words={hl?.subject} />
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
            <dd>
              <Marked text={hit.reason} words={hl?.text} />
            </dd>
          </>
        )}
      </dl>
      <pre className="code json">
        <Marked text={json} words={hl?.text} />
      </pre>
    </aside>
  );
}
