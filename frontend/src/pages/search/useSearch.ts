import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useMemo } from 'react';
import { api } from '../../api/http';
import { keys } from '../../api/query';
import type { FacetValuesResponse, FailureRecord, SearchResponse, StoredEvent } from '../../api/types';
import { useLocationSearch } from '../../router';
import { queryOf, readState, writeState, type SearchState } from './urlState';

/** A search hit: an event, or a failure record shown as one. */
export type Hit = StoredEvent & Partial<Pick<FailureRecord, 'stage' | 'reason'>>;

/** useSearchState is the search the URL holds. */
export function useSearchState(): SearchState {
  const search = useLocationSearch();
  return useMemo(() => readState(search), [search]);
}

/**
 * useSearchResults runs the search of state, again whenever it changes (the answer to an older
 * state is dropped), and every 10 s on the failures tab. The previous answer stays on screen
 * while the next one loads.
 */
export function useSearchResults(state: SearchState, enabled: boolean) {
  const path = state.tab === 'failures' ? '/v1/search/failures' : '/v1/search';
  return useQuery({
    // The URL, not the query: a time range is relative to when the search runs.
    queryKey: keys.search(state.tab, writeState(state)),
    queryFn: ({ signal }) => api<SearchResponse<Hit>>(path, { query: queryOf(state, Date.now()), signal }),
    enabled,
    refetchInterval: state.tab === 'failures' ? 10_000 : false,
    placeholderData: keepPreviousData,
  });
}

/** useFailureStream lists the newest limit records of the failure stream, every 10 s. */
export function useFailureStream(limit: number) {
  return useQuery({
    queryKey: keys.failures(limit),
    queryFn: ({ signal }) => api<{ failures: FailureRecord[]; next_cursor: string }>('/v1/failures', { query: { limit }, signal }),
    refetchInterval: 10_000,
    placeholderData: keepPreviousData,
  });
}

/** useFacetValues is the values of facet that start with prefix, most frequent first (none asked for an empty prefix). */
export function useFacetValues(facet: string, prefix: string) {
  return useQuery({
    queryKey: keys.facet(facet, prefix),
    queryFn: ({ signal }) => api<FacetValuesResponse>('/v1/search/facets', { query: { facet, q: prefix, limit: 20 }, signal }),
    enabled: prefix !== '',
    placeholderData: keepPreviousData,
  });
}

/** useRefreshFailures asks again for everything a replay changed: the stream and the failure searches. */
export function useRefreshFailures(): () => void {
  const client = useQueryClient();
  return useCallback(() => {
    void client.invalidateQueries({ queryKey: keys.failures() });
    void client.invalidateQueries({ queryKey: keys.search('failures') });
  }, [client]);
}
