import { useCallback, useEffect, useState } from 'react';
import { useLive } from '../../api/hooks';
import { api } from '../../api/http';
import type { IngestResponse, WindowCounts } from '../../api/types';
import { ExpectedCounts } from '../../lib/expected';
import { GeneratorHub } from '../../lib/generator';
import { LIKE_TYPE } from '../../lib/videos';

/** perFrame calls fn at the next animation frame, once however often it was asked meanwhile. */
function perFrame(fn: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

/**
 * useGenerators runs the board's load generators and Likes, and keeps what their events should
 * add up to (ExpectedCounts). countsOf is what the board shows for a video now: counts it had
 * before this tab tracked it are part of the expectation's range. Event times are the server's.
 */
export function useGenerators(countsOf: (id: string) => WindowCounts | undefined) {
  const live = useLive();
  const [expected] = useState(() => new ExpectedCounts());
  // When (server clock) a generator last changed or events were counted: expectations follow.
  const [changedAt, setChangedAt] = useState(0);
  const [tracking, setTracking] = useState(false);
  const [hub] = useState(
    () =>
      new GeneratorHub({
        type: LIKE_TYPE,
        send: async (batch) => (await api<IngestResponse>('/v1/events', { body: batch })).results,
        onCounted: (subject, times) => times.forEach((t) => expected.add(subject, t)),
        now: () => live.serverNow(),
        onChange: perFrame(() => setChangedAt(live.serverNow())),
      }),
  );
  useEffect(() => () => hub.dispose(), [hub]);

  const track = useCallback(
    (id: string) => {
      if (expected.tracking(id)) return;
      expected.track(id, live.serverNow(), countsOf(id));
      setTracking(true);
      setChangedAt(live.serverNow());
    },
    [expected, live, countsOf],
  );

  const onLike = useCallback(
    async (id: string) => {
      track(id);
      const r = await api<IngestResponse>(`/v1/videos/${encodeURIComponent(id)}/likes`, { method: 'POST' });
      const status = r.results?.[0]?.status;
      if (status === 'accepted' || status === 'duplicate') {
        expected.add(id, live.serverNow());
        setChangedAt(live.serverNow());
      } else if (status === 'rejected') throw new Error(r.results[0]?.error?.message ?? 'rejected');
    },
    [expected, live, track],
  );
  const onRate = useCallback((id: string, rate: number) => hub.setRate(id, rate), [hub]);
  const onToggle = useCallback(
    (id: string) => {
      if (hub.stats(id).running) hub.stop(id);
      else {
        track(id);
        hub.start(id);
      }
    },
    [hub, track],
  );
  const startAll = (ids: string[], rate: number) => {
    for (const id of ids) {
      hub.setRate(id, rate);
      track(id);
      hub.start(id);
    }
  };
  return { hub, expected, changedAt, tracking, onLike, onRate, onToggle, startAll };
}
