import { useMemo, useState } from 'react';
import { Facet, TypeFacet, withSelected } from './Facet';
import { FailureStream } from './FailureStream';
import { Detail } from './Detail';
import { ReplayBar } from './ReplayBar';
import { Results } from './Results';
import { SearchBox } from './SearchBox';
import { Filters } from './Filters';
import { useRefreshFailures, useSearchResults, type Hit } from './useSearch';
import { streamMode as isStreamMode, toggle, updateSearch, writeState, type SearchState } from './urlState';

/** facetEntries is a facet's values, most frequent first, with the selected ones even when they matched nothing. */
export function facetEntries(facet: Record<string, number> | undefined, selected: string[]): Array<[string, number]> {
  return withSelected(Object.entries(facet ?? {}), selected).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** SearchPanel is one tab: the query, filters, facets, results and the open hit. */
export function SearchPanel({ state }: { state: SearchState }) {
  const failures = state.tab === 'failures';
  const stream = isStreamMode(state);
  const stateKey = writeState(state);
  const res = useSearchResults(state, !stream);
  // The open hit belongs to the search it came from: another search closes it.
  const [open, setOpen] = useState<{ search: string; hit: Hit } | null>(null);
  const selected = open?.search === stateKey ? open.hit : null;
  const select = (hit: Hit | null) => setOpen(hit && { search: stateKey, hit });
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const pick = (id: string) => setPicked((p) => new Set(toggle([...p], id)));
  const refreshFailures = useRefreshFailures();

  const facets = res.data?.facets;
  const types = useMemo(() => facetEntries(facets?.type, state.types), [facets, state.types]);
  const stages = useMemo(() => facetEntries(facets?.stage, []), [facets]);

  return (
    <div className="search-layout">
      <div className="search-bar">
        <SearchBox failures={failures} initial={state.q} onSearch={(q) => updateSearch({ q })} />
        <Filters state={state} />
      </div>

      <aside className="facets" aria-label="Filters" hidden={stream}>
        {failures ? (
          <>
            <Facet title="Type" entries={types} selected={state.types} onToggle={(t) => updateSearch({ types: toggle(state.types, t) })} />
            <Facet title="Stage" entries={stages} selected={state.stages} onToggle={(t) => updateSearch({ stages: toggle(state.stages, t) })} />
          </>
        ) : (
          <TypeFacet entries={types} selected={state.types} onToggle={(t) => updateSearch({ types: toggle(state.types, t) })} />
        )}
      </aside>

      <section className="results" aria-label="Results" aria-busy={res.isFetching}>
        {failures && (
          <ReplayBar
            picked={picked}
            onDone={() => {
              setPicked(new Set());
              refreshFailures();
            }}
          />
        )}
        {stream ? (
          <FailureStream selected={selected} onOpen={select} picked={picked} onPick={pick} />
        ) : (
          <Results state={state} res={res} selected={selected} onOpen={select} picked={picked} onPick={pick} />
        )}
      </section>

      {selected && <Detail hit={selected} onClose={() => select(null)} />}
    </div>
  );
}
