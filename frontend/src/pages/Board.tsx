import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useLive, useLiveStatus, useNow, usePoll } from '../api/hooks';
import { api, errorText } from '../api/http';
import type { CountsResponse, IngestResponse, TopEntry, TopResponse, WindowCounts, WindowsResponse } from '../api/types';
import { ErrorNotice } from '../components/Notice';
import { Trending } from '../components/Trending';
import { MAX_RATE, VideoCard } from '../components/VideoCard';
import { VideosDialog } from '../components/VideosDialog';
import { drift, ExpectedCounts, windowSpecs, type Range } from '../lib/expected';
import { num } from '../lib/format';
import { GeneratorHub, perTick } from '../lib/generator';
import { LIKE_TYPE, loadVideos, saveVideos, type Video } from '../lib/videos';

const DEFAULT_WINDOWS = ['1m', '5m', '10m'];
/** A drift must last this long before it is shown: counts in flight settle within a tick. */
const DRIFT_HOLD_MS = 2000;

export function Board() {
  const live = useLive();
  const status = useLiveStatus();
  const [videos, setVideos] = useState<Video[]>(loadVideos);
  const ids = useMemo(() => videos.map((v) => v.id), [videos]);
  const idsKey = ids.join('\n');
  const titles = useMemo(() => new Map(videos.map((v) => [v.id, v.title])), [videos]);

  const [windows, setWindows] = useState<string[]>(DEFAULT_WINDOWS);
  const specs = useMemo(() => windowSpecs(windows), [windows]);
  const [counts, setCounts] = useState<Record<string, WindowCounts>>({});
  const countsRef = useRef(counts);
  countsRef.current = counts;
  const liveAt = useRef(0);
  // The server's clock (Redis TIME) minus ours, from the frames' "at": windows are counted on
  // the server's clock, so expected counts and generated event times use it too. A browser
  // clock a few seconds off would otherwise show drift at every window edge.
  const skew = useRef(0);
  const serverNow = useCallback(() => Date.now() + skew.current, []);
  const heard = (at: number) => {
    liveAt.current = at;
    skew.current = at - Date.now();
  };
  const [liveError, setLiveError] = useState<string | null>(null);

  // Counts over HTTP: the server's window names, first numbers before the WebSocket is up, and
  // a fallback while it is down. Never newer frames overwritten by an older answer.
  const initial = usePoll(
    (signal) => api<WindowsResponse>('/v1/windows', { query: { type: LIKE_TYPE, subject: ids }, signal }),
    status.state === 'live' ? 60_000 : 5_000,
    [idsKey],
  );
  useEffect(() => {
    const res = initial.data;
    if (!res) return;
    if (res.windows?.length && res.windows.join() !== windows.join()) setWindows(res.windows);
    if (res.at <= liveAt.current) return;
    setCounts((prev) => {
      const next = { ...prev };
      for (const c of res.counts ?? []) {
        const wc: WindowCounts = {};
        for (const w of res.windows ?? []) if (typeof c[w] === 'number') wc[w] = c[w] as number;
        next[c.subject] = wc;
      }
      return next;
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [initial.data]);

  useEffect(
    () =>
      live.subscribe(
        { type: LIKE_TYPE, subjects: ids },
        {
          snapshot: (cs, at) => {
            heard(at);
            setLiveError(null);
            setCounts(Object.fromEntries(cs.map((c) => [c.subject, c.counts])));
          },
          update: (cs, at) => {
            heard(at);
            setCounts((prev) => {
              const next = { ...prev };
              for (const c of cs) next[c.subject] = { ...prev[c.subject], ...c.counts };
              return next;
            });
          },
          error: (code, message) => setLiveError(`${code}: ${message}`),
        },
      ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [live, idsKey],
  );

  // Trending: the top 10 of the chosen window, live.
  const [topWindow, setTopWindow] = useState(() => stored('pulse.topWindow') ?? '1m');
  const win = windows.includes(topWindow) ? topWindow : windows[0]!;
  const [top, setTop] = useState<TopEntry[] | undefined>();
  const [topError, setTopError] = useState<string | null>(null);
  useEffect(() => {
    setTop(undefined);
    setTopError(null);
    let got = false;
    const off = live.subscribe(
      { type: LIKE_TYPE, top: { window: win, limit: 10 } },
      {
        top: (entries) => {
          got = true;
          setTop(entries);
        },
        error: (_, message) => setTopError(message),
      },
    );
    api<TopResponse>('/v1/top', { query: { type: LIKE_TYPE, window: win, limit: 10 } }).then(
      (r) => !got && setTop(r.entries ?? []),
      (e) => !got && setTopError(errorText(e)),
    );
    return off;
  }, [live, win]);

  // Sparklines: likes per minute over the last ten minutes (the current one still filling).
  const history = usePoll(
    async (signal) => {
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
    10_000,
    [idsKey],
  );

  // Generators and what their events should add up to.
  const expected = useMemo(() => new ExpectedCounts(), []);
  const [genVersion, setGenVersion] = useState(0);
  const renderQueued = useRef(false);
  const hub = useMemo(
    () =>
      new GeneratorHub({
        type: LIKE_TYPE,
        send: async (batch) => (await api<IngestResponse>('/v1/events', { body: batch })).results,
        onCounted: (subject, times) => times.forEach((t) => expected.add(subject, t)),
        now: serverNow,
        onChange: () => {
          if (renderQueued.current) return;
          renderQueued.current = true;
          requestAnimationFrame(() => {
            renderQueued.current = false;
            setGenVersion((v) => v + 1);
          });
        },
      }),
    [expected, serverNow],
  );
  useEffect(() => () => hub.dispose(), [hub]);

  const [tracked, setTracked] = useState(0);
  const track = useCallback(
    (id: string) => {
      if (!expected.tracking(id)) {
        expected.track(id, serverNow(), countsRef.current[id]);
        setTracked((n) => n + 1);
      }
    },
    [expected, serverNow],
  );

  const onLike = useCallback(
    async (id: string) => {
      track(id);
      const r = await api<IngestResponse>(`/v1/videos/${encodeURIComponent(id)}/likes`, { method: 'POST' });
      const status = r.results?.[0]?.status;
      if (status === 'accepted' || status === 'duplicate') expected.add(id, serverNow());
      else if (status === 'rejected') throw new Error(r.results[0]?.error?.message ?? 'rejected');
    },
    [expected, track],
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
  const [allRate, setAllRate] = useState(600);
  const startAll = () => {
    for (const id of ids) {
      hub.setRate(id, allRate);
      track(id);
      hub.start(id);
    }
  };

  // Expected ranges and drift, once a second (both move in whole seconds) or when events are counted.
  const now = useNow(1000, tracked > 0);
  const driftSince = useRef(new Map<string, number>());
  const view = useMemo(() => {
    const t = serverNow();
    expected.prune(t, specs.at(-1)?.seconds ?? 600);
    const ranges: Record<string, Record<string, Range>> = {};
    const drifts: Record<string, Record<string, number>> = {};
    for (const id of ids) {
      const r = expected.range(id, t, specs);
      if (!r) continue;
      ranges[id] = r;
      const tol = perTick(hub.stats(id).running ? hub.stats(id).rate : 0, hub.tickMs);
      const d: Record<string, number> = {};
      for (const w of windows) {
        const obs = countsRef.current[id]?.[w];
        const k = `${id}\n${w}`;
        const off = obs === undefined || !r[w] ? 0 : drift(obs, r[w]!, tol);
        if (off === 0) driftSince.current.delete(k);
        else if (!driftSince.current.has(k)) driftSince.current.set(k, t);
        d[w] = off !== 0 && t - driftSince.current.get(k)! >= DRIFT_HOLD_MS ? off : 0;
      }
      drifts[id] = d;
    }
    return { ranges, drifts };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [now, genVersion, tracked, idsKey, specs]);

  const running = ids.filter((id) => hub.stats(id).running);
  const ratePerMin = running.reduce((s, id) => s + hub.stats(id).rate, 0);
  const noCounts = Object.keys(counts).length === 0;

  return (
    <div className="board">
      <div className="page-head">
        <div>
          <h1>Live board</h1>
          <p className="muted">
            Likes per video over the last {windows.join(' / ')}, pushed live. {videos.length} videos
            {running.length > 0 && (
              <>
                {' '}
                · <strong>{running.length}</strong> generator{running.length > 1 ? 's' : ''} at {num(ratePerMin)} likes/min
              </>
            )}
          </p>
        </div>
        <div className="toolbar">
          <label className="inline-field">
            <span>All at</span>
            <input
              type="number"
              className="rate-input"
              min={0}
              max={MAX_RATE}
              value={allRate}
              onChange={(e) => setAllRate(Math.min(MAX_RATE, Math.max(0, Number(e.target.value) || 0)))}
            />
            <span className="unit">/min</span>
          </label>
          <button type="button" className="btn" onClick={startAll}>
            Start all
          </button>
          <button type="button" className="btn" onClick={() => hub.stopAll()} disabled={running.length === 0}>
            Stop all
          </button>
          <VideosDialog
            videos={videos}
            onSave={(v) => {
              saveVideos(v);
              setVideos(v ?? loadVideos());
            }}
          />
        </div>
      </div>

      {initial.error !== null && noCounts && <ErrorNotice error={initial.error} onRetry={initial.refresh} what="the counts" />}
      {liveError && <p className="error-text">Live updates refused: {liveError}</p>}

      <div className="board-layout">
        <section className="grid" aria-label="Videos">
          {videos.map((v) => (
            <VideoCard
              key={v.id}
              video={v}
              windows={windows}
              counts={counts[v.id]}
              expected={view.ranges[v.id] ?? null}
              drift={view.drifts[v.id] ?? null}
              history={historyOf(v.id)}
              gen={hub.stats(v.id)}
              stale={status.state !== 'live'}
              onLike={onLike}
              onRate={onRate}
              onToggle={onToggle}
            />
          ))}
        </section>
        <aside>
          <Trending
            entries={top}
            window={win}
            windows={windows}
            onWindow={(w) => {
              store('pulse.topWindow', w);
              setTopWindow(w);
            }}
            titleOf={(s) => titles.get(s)}
            error={topError}
          />
        </aside>
      </div>
    </div>
  );

  function historyOf(id: string): number[] | undefined {
    return history.data?.[id];
  }
}

/** stored and store use localStorage where the browser allows it (not in some private modes). */
function stored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // kept for this page only
  }
}
