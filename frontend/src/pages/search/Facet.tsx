import { useState, type ReactNode } from 'react';
import { useDebounced } from '../../api/hooks';
import { num } from '../../lib/format';
import { useFacetValues } from './useSearch';

/** Above this many types, the type facet offers a filter that asks the server for matching types. */
export const FILTER_ABOVE = 8;

type Entries = Array<[string, number]>;

export function Facet(p: { title: string; entries: Entries; selected: string[]; onToggle(v: string): void; children?: ReactNode }) {
  return (
    <fieldset className="facet">
      <legend>{p.title}</legend>
      {p.children}
      {p.entries.length === 0 && <p className="muted small">—</p>}
      {p.entries.map(([v, n]) => (
        <label key={v} className="facet-row">
          <input type="checkbox" checked={p.selected.includes(v)} onChange={() => p.onToggle(v)} disabled={v === ''} />
          <span className="facet-name">{v || '(none)'}</span>
          <span className="facet-count">{num(n)}</span>
        </label>
      ))}
    </fieldset>
  );
}

/**
 * TypeFacet is the type facet. With many types, a filter lists the types that start with what
 * is typed (GET /v1/search/facets: over every event, not only this search's), so a type beyond
 * the facet's top values can be picked; types already picked stay listed.
 */
export function TypeFacet({ entries, selected, onToggle }: { entries: Entries; selected: string[]; onToggle(v: string): void }) {
  const [filter, setFilter] = useState('');
  const prefix = useDebounced(filter.trim(), 200);
  const values = useFacetValues('type', prefix);
  const shown = prefix && values.data ? withSelected(values.data.values.map((v) => [v.value, v.count]), selected) : entries;
  return (
    <Facet title="Type" entries={shown} selected={selected} onToggle={onToggle}>
      {(entries.length > FILTER_ABOVE || filter !== '') && (
        <input
          type="text"
          className="facet-filter"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          placeholder="Filter types"
          aria-label="Filter types"
          spellCheck={false}
        />
      )}
    </Facet>
  );
}

/** withSelected appends the selected values entries lacks, so they can still be unticked. */
export function withSelected(entries: Entries, selected: string[]): Entries {
  const have = new Set(entries.map(([v]) => v));
  return [...entries, ...selected.filter((s) => !have.has(s)).map((s): [string, number] => [s, 0])];
}
