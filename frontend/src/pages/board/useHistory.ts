import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api } from '../../api/http';
import { keys } from '../../api/query';
import type { CountsResponse } from '../../api/types';
import { LIKE_TYPE } from '../../lib/videos';

/**
 * useHistory is, per video, its likes per minute over the last ten minutes (the current one
 * still filling), every 10 s. A video whose history fails has none; the others still show.
 */
export function useHistory(ids: string[]) {
  return useQuery({
    queryKey: keys.history(LIKE_TYPE, ids),
    queryFn: async ({ signal }) => {
      const to = Date.now();
      const from = Math.floor(to / 60_000) * 60_000 - 9 * 60_000;
      const series = await Promise.all(
        ids.map((id) =>
          api<CountsResponse>('/v1/counts', { query: { type: LIKE_TYPE, subject: id, from, to, step: '1m' }, signal }).then(
            (r) => [id, (r.series ?? []).map((p) => p.count)] as const,
            () => [id, undefined] as const,
          ),
        ),
      );
      return Object.fromEntries(series) as Record<string, number[] | undefined>;
    },
    refetchInterval: 10_000,
    placeholderData: keepPreviousData,
  });
}
