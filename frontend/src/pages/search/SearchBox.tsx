import { useId, useState } from 'react';
import { useDebounce } from '../../api/hooks';

/** incomplete: a query that ends in a bare id: is still being typed; the server would refuse it. */
export function incomplete(q: string): boolean {
  return /(^|\s)id:$/i.test(q.trim());
}

/**
 * SearchBox searches as the user types, 250 ms after the last key, and at once on Enter. The
 * server takes the last word as a prefix and finds a pasted id among the words.
 */
export function SearchBox({ failures, initial, onSearch }: { failures: boolean; initial: string; onSearch(q: string): void }) {
  const [text, setText] = useState(initial);
  const debounce = useDebounce(250);
  const hint = useId();
  return (
    <>
      <label className="search-box">
        <span className="sr-only">{failures ? 'Search failures' : 'Search events'}</span>
        <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18">
          <path fill="currentColor" d="M10 2a8 8 0 0 1 6.3 12.9l5.4 5.4-1.4 1.4-5.4-5.4A8 8 0 1 1 10 2Zm0 2a6 6 0 1 0 0 12 6 6 0 0 0 0-12Z" />
        </svg>
        <input
          type="search"
          value={text}
          onChange={(e) => {
            const q = e.target.value;
            setText(q);
            if (incomplete(q)) debounce.cancel();
            else debounce(() => onSearch(q));
          }}
          onKeyDown={(e) => {
            if (e.key !== 'Enter') return;
            debounce.cancel();
            onSearch(text);
          }}
          placeholder={failures ? 'Words of a reason, stage, type or payload' : 'Words of a type, subject or payload'}
          aria-describedby={failures ? undefined : hint}
          autoFocus
        />
      </label>
      {!failures && (
        <p id={hint} className="muted small search-hint">
          Tip: <code>id:evt-…</code> finds one event
        </p>
      )}
    </>
  );
}
