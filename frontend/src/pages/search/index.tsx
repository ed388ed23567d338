import type { ReactNode } from 'react';
import { SearchPanel } from './SearchPanel';
import { useSearchState } from './useSearch';
import { switchTab } from './urlState';

/** Search: events and failures, the whole search in the URL. */
export function Search() {
  const state = useSearchState();
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
          switchTab(next);
          requestAnimationFrame(() => document.getElementById(`tab-${next}`)?.focus());
        }}
      >
        <TabButton active={state.tab === 'events'} onClick={() => switchTab('events')} id="tab-events">
          Events
        </TabButton>
        <TabButton active={state.tab === 'failures'} onClick={() => switchTab('failures')} id="tab-failures">
          Failures
        </TabButton>
      </div>
      <div role="tabpanel" aria-labelledby={state.tab === 'events' ? 'tab-events' : 'tab-failures'}>
        <SearchPanel key={state.tab} state={state} />
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
