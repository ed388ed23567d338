// Live counts and leaderboards as queries: /v1/windows and /v1/top answer first (and stand in
// while the WebSocket is down), and every frame of the subscription is written into the same
// cache entry. Whichever is newer by the server's clock ("at") wins.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useLive } from './hooks';
import { api } from './http';
import { keys } from './query';
import type { SubjectCounts, TopEntry, TopResponse, WindowCounts, WindowsResponse } from './types';

export const DEFAULT_WINDOWS = ['1m', '5m', '10m'];

export interface LiveCounts {
  /** Server time of the newest numbers applied. */
  at: number;
  /** The server's window names, as /v1/windows last said. */
  windows: string[];
  counts: Record<string, WindowCounts>;
  /** Dashboards watching each subject, as the last frame that carried it said. */
  watching: Record<string, number>;
}

const empty: LiveCounts = { at: 0, windows: DEFAULT_WINDOWS, counts: {}, watching: {} };

/** withSnapshot replaces every count: a snapshot is all the server vouches for. */
export function withSnapshot(prev: LiveCounts | undefined, cs: SubjectCounts[], at: number): LiveCounts {
  const watching: Record<string, number> = {};
  for (const c of cs) if (c.watching !== undefined) watching[c.subject] = c.watching;
  return { at, windows: prev?.windows ?? DEFAULT_WINDOWS, counts: Object.fromEntries(cs.map((c) => [c.subject, c.counts])), watching };
}

/** withUpdate merges the subjects that changed; the others keep their objects, so their cards do not re-render. */
export function withUpdate(prev: LiveCounts | undefined, cs: SubjectCounts[], at: number): LiveCounts {
  const p = prev ?? empty;
  const counts = { ...p.counts };
  const watching = { ...p.watching };
  for (const c of cs) {
    counts[c.subject] = { ...p.counts[c.subject], ...c.counts };
    if (c.watching !== undefined) watching[c.subject] = c.watching;
  }
  return { ...p, at: Math.max(p.at, at), counts, watching };
}

/** withWindows applies a /v1/windows answer: its window names always, its counts only when newer than what frames brought. */
export function withWindows(prev: LiveCounts | undefined, res: WindowsResponse): LiveCounts {
  const p = prev ?? empty;
  const windows = res.windows?.length ? res.windows : p.windows;
  if (res.at <= p.at) return { ...p, windows };
  const counts = { ...p.counts };
  for (const c of res.counts ?? []) {
    const wc: WindowCounts = {};
    for (const w of windows) if (typeof c[w] === 'number') wc[w] = c[w] as number;
    counts[c.subject] = wc;
  }
  return { ...p, at: res.at, windows, counts };
}

/**
 * useLiveCounts is the live counts of subjects: HTTP every 5 s while the WebSocket is down and
 * once a minute otherwise, frames in between. The subscription watches the subjects, so the
 * counts also say how many dashboards watch each one. error is a refusal of the subscription.
 */
export function useLiveCounts(type: string, subjects: string[], connected: boolean) {
  const live = useLive();
  const client = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const query = useQuery({
    queryKey: keys.liveCounts(type, subjects),
    queryFn: async ({ queryKey, signal, client }) => {
      const res = await api<WindowsResponse>('/v1/windows', { query: { type, subject: subjects }, signal });
      // Read the cache after the answer arrived: frames that came meanwhile are newer.
      return withWindows(client.getQueryData<LiveCounts>(queryKey), res);
    },
    refetchInterval: connected ? 60_000 : 5_000,
  });
  useEffect(() => {
    const key = keys.liveCounts(type, subjects);
    const set = (f: (prev: LiveCounts | undefined) => LiveCounts) => client.setQueryData<LiveCounts>(key, f);
    return live.subscribe(
      { type, subjects, watch: true },
      {
        snapshot: (cs, at) => {
          setError(null);
          set((prev) => withSnapshot(prev, cs, at));
        },
        update: (cs, at) => set((prev) => withUpdate(prev, cs, at)),
        error: (code, message) => setError(`${code}: ${message}`),
      },
    );
  }, [live, client, type, subjects]);
  return { ...query, liveError: error };
}

export interface LiveTop {
  at: number;
  entries: TopEntry[];
}

/** newerTop is the /v1/top answer next, unless a frame at least as new is already there. */
export function newerTop(prev: LiveTop | undefined, next: LiveTop): LiveTop {
  return prev && prev.at >= next.at ? prev : next;
}

/** useLiveTop is the top 10 of type in window: /v1/top first, then every top frame. */
export function useLiveTop(type: string, window: string) {
  const live = useLive();
  const client = useQueryClient();
  // An error frame belongs to the subscription of one window: another window starts clean.
  const [error, setError] = useState<{ window: string; message: string } | null>(null);
  const query = useQuery({
    queryKey: keys.top(type, window),
    queryFn: async ({ queryKey, signal, client }) => {
      const r = await api<TopResponse>('/v1/top', { query: { type, window, limit: 10 }, signal });
      return newerTop(client.getQueryData<LiveTop>(queryKey), { at: r.at, entries: r.entries ?? [] });
    },
  });
  useEffect(
    () =>
      live.subscribe(
        { type, top: { window, limit: 10 } },
        {
          top: (entries, _, at) => client.setQueryData<LiveTop>(keys.top(type, window), { at, entries }),
          error: (_, message) => setError({ window, message }),
        },
      ),
    [live, client, type, window],
  );
  return { ...query, liveError: error?.window === window ? error.message : null };
}
