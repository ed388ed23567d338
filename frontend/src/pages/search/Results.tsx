import { Empty, ErrorNotice } from '../../components/Notice';
import { num } from '../../lib/format';
import { ArchiveCount } from './ArchiveCount';
import { HitRow } from './HitRow';
import { useSearchResults, type Hit } from './useSearch';
import { MAX_OFFSET, PAGE, updateSearch, type SearchState } from './urlState';

interface Props {
  state: SearchState;
  res: ReturnType<typeof useSearchResults>;
  selected: Hit | null;
  onOpen(h: Hit): void;
  picked: Set<string>;
  onPick(id: string): void;
}

/** Results of a search: how many, the hits, paging, and for one type a count from the archive. */
export function Results({ state, res, selected, onOpen, picked, onPick }: Props) {
  const failures = state.tab === 'failures';
  const data = res.data;
  const total = data?.total ?? 0;
  return (
    <>
      {failures && <p className="muted small">Searching the failure history: records already replayed still show here.</p>}
      {res.error !== null && <ErrorNotice error={res.error} onRetry={() => void res.refetch()} what={failures ? 'failures' : 'search results'} />}
      {data && (
        <p className="muted small result-count" role="status">
          {total === 0 ? 'No matches' : `${num(state.offset + 1)}–${num(Math.min(total, state.offset + PAGE))} of ${num(total)}`}
          {data.took_ms !== undefined && ` · ${data.took_ms} ms`}
          {res.isFetching && ' · searching…'}
          <button type="button" className="link-button" onClick={() => void res.refetch()}>
            Refresh
          </button>
        </p>
      )}
      {data && data.hits.length === 0 && !res.isFetching && (
        <Empty title={failures ? 'No failures match' : 'No events match'}>
          {state.q
            ? 'Words match whole words of the type, subject or data. Try fewer words or a wider time range.'
            : failures
              ? 'Nothing failed in this range.'
              : 'Publish some events, or widen the time range.'}
        </Empty>
      )}
      {data && data.hits.length > 0 && (
        <ul className="hits">
          {data.hits.map((h) => (
            <HitRow
              key={h.id}
              hit={h}
              active={selected?.id === h.id}
              onOpen={() => onOpen(h)}
              pick={failures ? { on: picked.has(h.id), toggle: () => onPick(h.id) } : undefined}
            />
          ))}
        </ul>
      )}
      {data && total > PAGE && <Pager offset={state.offset} total={total} />}
      {!failures && state.types.length === 1 && (
        // Search keeps PULSE_SEARCH_RETENTION of events; /v1/counts reaches further back.
        <ArchiveCount key={`${state.types[0]}\n${state.subject.trim()}`} type={state.types[0]!} subject={state.subject.trim()} />
      )}
    </>
  );
}

function Pager({ offset, total }: { offset: number; total: number }) {
  const pages = Math.max(1, Math.ceil(total / PAGE));
  const page = Math.floor(offset / PAGE) + 1;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="btn btn-small" disabled={page <= 1} onClick={() => updateSearch({ offset: Math.max(0, offset - PAGE) })}>
        ← Previous
      </button>
      <span>
        Page {num(page)} of {num(pages)}
      </span>
      <button
        type="button"
        className="btn btn-small"
        disabled={page >= pages || offset + PAGE > MAX_OFFSET}
        onClick={() => updateSearch({ offset: offset + PAGE })}
      >
        Next →
      </button>
    </nav>
  );
}
