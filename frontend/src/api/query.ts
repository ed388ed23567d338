// Server state lives in one TanStack Query cache: HTTP answers, and the live WebSocket's frames
// written into the same entries (liveQueries.ts), so every component reads counts one way.
import { QueryClient } from '@tanstack/react-query';
import { ApiError } from './http';

/** Every query key of the app: one place to see what is cached, and what a live frame overwrites. */
export const keys = {
  ready: ['ready'] as const,
  pipeline: ['pipeline'] as const,
  liveCounts: (type: string, subjects: readonly string[]) => ['live-counts', type, subjects] as const,
  top: (type: string, window: string) => ['top', type, window] as const,
  history: (type: string, subjects: readonly string[]) => ['history', type, subjects] as const,
  /**
   * One subject's counts per step over [from, to) (GET /v1/counts). Give from and to on whole
   * minutes, not Date.now(): the key then holds still between minutes instead of changing at
   * every render. Without the range: every range of that subject (a prefix, to invalidate them).
   */
  counts: (type: string, subject: string, range?: { from: number; to: number; step: string }) =>
    range === undefined ? (['counts', type, subject] as const) : (['counts', type, subject, range.step, range.from, range.to] as const),
  /** Without url: every search of the tab (a prefix, to invalidate them all). */
  search: (tab: string, url?: string) => (url === undefined ? ['search', tab] : ['search', tab, url]),
  facet: (facet: string, prefix: string) => ['facet', facet, prefix] as const,
  /** Without limit: every listing of the failure stream. */
  failures: (limit?: number) => (limit === undefined ? ['failures'] : ['failures', limit]),
};

/**
 * shouldRetry retries a failed query twice, unless the API refused it (4xx): asking again
 * would get the same answer, and a 401 has already asked the user for a key.
 */
export function shouldRetry(failures: number, err: unknown): boolean {
  if (err instanceof ApiError && err.status >= 400 && err.status < 500) return false;
  return failures < 2;
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: shouldRetry,
        retryDelay: (n) => Math.min(500 * 2 ** n, 4000),
        // Polled queries refresh on their own interval (paused while the tab is hidden); a
        // burst of requests at every focus change would only repeat them.
        refetchOnWindowFocus: false,
      },
    },
  });
}
