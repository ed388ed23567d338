import { useState } from 'react';
import { useDebounce } from '../../api/hooks';
import { RANGES, updateSearch, type SearchState } from './urlState';

/** Filters: subject (exact, applied 300 ms after the last key), time range and sort. */
export function Filters({ state }: { state: SearchState }) {
  const [subject, setSubject] = useState(state.subject);
  const debounce = useDebounce(300);
  return (
    <div className="filters">
      <label className="inline-field">
        <span>Subject</span>
        <input
          value={subject}
          onChange={(e) => {
            const s = e.target.value;
            setSubject(s);
            debounce(() => updateSearch({ subject: s }));
          }}
          placeholder="exact, e.g. video-1"
        />
      </label>
      <label className="inline-field">
        <span>Time</span>
        <select value={state.range} onChange={(e) => updateSearch({ range: e.target.value })}>
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
            <input type="datetime-local" step={1} value={state.from} onChange={(e) => updateSearch({ from: e.target.value })} />
          </label>
          <label className="inline-field">
            <span>To</span>
            <input type="datetime-local" step={1} value={state.to} onChange={(e) => updateSearch({ to: e.target.value })} />
          </label>
        </>
      )}
      <label className="inline-field">
        <span>Sort</span>
        <select value={state.sort} onChange={(e) => updateSearch({ sort: e.target.value as SearchState['sort'] })}>
          <option value="time:desc">Newest first</option>
          <option value="time:asc">Oldest first</option>
        </select>
      </label>
    </div>
  );
}
