import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useMemo, useState } from 'react';
import { useLive, useLiveStatus, useNow } from '../../api/hooks';
import { DEFAULT_WINDOWS, useLiveCounts, type LiveCounts } from '../../api/liveQueries';
import { keys } from '../../api/query';
import { ErrorNotice } from '../../components/Notice';
import { VideoCard } from '../../components/VideoCard';
import { LIKE_TYPE, loadVideos, saveVideos, type Video } from '../../lib/videos';
import { BoardHeader } from './BoardHeader';
import { TrendingPanel } from './TrendingPanel';
import { useExpectations } from './useExpectations';
import { useGenerators } from './useGenerators';
import { useHistory } from './useHistory';

/** Board: the videos with their live counts, likes and generators, and what is trending. */
export function Board() {
  const live = useLive();
  const status = useLiveStatus();
  const client = useQueryClient();
  const [videos, setVideos] = useState<Video[]>(loadVideos);
  const ids = useMemo(() => videos.map((v) => v.id), [videos]);
  const titles = useMemo(() => new Map(videos.map((v) => [v.id, v.title])), [videos]);

  const counts = useLiveCounts(LIKE_TYPE, ids, status.state === 'live');
  const windows = counts.data?.windows ?? DEFAULT_WINDOWS;
  const history = useHistory(ids);

  const countsOf = useCallback((id: string) => client.getQueryData<LiveCounts>(keys.liveCounts(LIKE_TYPE, ids))?.counts[id], [client, ids]);
  const gen = useGenerators(countsOf);
  const { hub } = gen;

  // Expected ranges and drift, once a second (both move in whole seconds) or when events are counted.
  const serverNow = useCallback(() => live.serverNow(), [live]);
  const ticked = useNow(1000, gen.tracking, serverNow);
  const view = useExpectations({ ids, windows, counts: counts.data?.counts, expected: gen.expected, gen: hub, now: Math.max(ticked, gen.changedAt) });

  const running = ids.filter((id) => hub.stats(id).running);
  const noCounts = Object.keys(counts.data?.counts ?? {}).length === 0;

  return (
    <div className="board">
      <BoardHeader
        windows={windows}
        videos={videos}
        running={running.length}
        ratePerMin={running.reduce((s, id) => s + hub.stats(id).rate, 0)}
        onStartAll={(rate) => gen.startAll(ids, rate)}
        onStopAll={() => hub.stopAll()}
        onVideos={(v) => {
          saveVideos(v);
          setVideos(v ?? loadVideos());
        }}
      />

      {counts.error !== null && noCounts && <ErrorNotice error={counts.error} onRetry={() => void counts.refetch()} what="the counts" />}
      {counts.liveError && <p className="error-text">Live updates refused: {counts.liveError}</p>}

      <div className="board-layout">
        <section className="grid" aria-labelledby="videos-title">
          {/* The cards' titles are h3: the outline needs this level between them and the h1. */}
          <h2 id="videos-title" className="sr-only">
            Videos
          </h2>
          {videos.map((v) => (
            <VideoCard
              key={v.id}
              video={v}
              windows={windows}
              counts={counts.data?.counts[v.id]}
              watching={counts.data?.watching[v.id]}
              expected={view.ranges[v.id] ?? null}
              drift={view.drifts[v.id] ?? null}
              history={history.data?.[v.id]}
              gen={hub.stats(v.id)}
              stale={status.state !== 'live'}
              onLike={gen.onLike}
              onRate={gen.onRate}
              onToggle={gen.onToggle}
            />
          ))}
        </section>
        <aside>
          <TrendingPanel windows={windows} titles={titles} />
        </aside>
      </div>
    </div>
  );
}
