import { lazy, memo, Suspense, useId, useState } from 'react';
import type { WindowCounts } from '../api/types';
import type { Range } from '../lib/expected';
import { num } from '../lib/format';
import type { GenStats } from '../lib/generator';
import type { Video } from '../lib/videos';
import { Count } from './Count';
import { Sparkline } from './Sparkline';
import './VideoHistory.css';

// The hour of likes is a chunk of its own (with its chart's axes and tooltip): the board's first
// load does not wait for what a click opens. A chunk that cannot load (this page is older than
// the server's build) says so in the card instead of taking the board down.
const VideoHistory = lazy(() => import('./VideoHistory').then((m) => ({ default: m.VideoHistory }), () => ({ default: HistoryUnavailable })));

function HistoryUnavailable() {
  return (
    <p className="error-text small" role="alert">
      Could not load the history chart. Reload the page to try again.
    </p>
  );
}

export const MAX_RATE = 6000;
const SLIDER_MAX = 1200;

export interface VideoCardProps {
  video: Video;
  windows: string[];
  counts: WindowCounts | undefined;
  /** Dashboards watching the video now, this one included; undefined until the server said. */
  watching?: number;
  /** Expected counts per window, when this tab has sent events for the video. */
  expected: Record<string, Range> | null;
  /** Per window, observed − expected beyond tolerance, held for a moment (0: in sync). */
  drift: Record<string, number> | null;
  history: number[] | undefined;
  gen: GenStats;
  stale: boolean;
  onLike(id: string): Promise<void>;
  onRate(id: string, rate: number): void;
  onToggle(id: string): void;
}

/**
 * VideoCard is one video on the live board: live counts, Like, sparkline, its generator, and on
 * demand (History) the last hour of likes per minute.
 */
export const VideoCard = memo(function VideoCard(p: VideoCardProps) {
  const { video, windows, counts, expected, drift, gen } = p;
  const titleId = useId();
  const historyId = useId();
  const [showHistory, setShowHistory] = useState(false);
  const [liking, setLiking] = useState(false);
  const [likeError, setLikeError] = useState<string | null>(null);
  const drifting = drift ? windows.filter((w) => (drift[w] ?? 0) !== 0) : [];

  const like = async () => {
    setLiking(true);
    setLikeError(null);
    try {
      await p.onLike(video.id);
    } catch (e) {
      setLikeError(e instanceof Error ? e.message : String(e));
    } finally {
      setLiking(false);
    }
  };

  return (
    <article
      className={`card video${gen.running ? ' generating' : ''}${drifting.length ? ' drifting' : ''}${p.stale ? ' stale' : ''}`}
      aria-labelledby={titleId}
      data-subject={video.id}
      data-drift={drifting.length}
    >
      <header className="video-head">
        <div className="video-title">
          <h3 id={titleId} title={video.title}>
            {video.title}
          </h3>
          <code>{video.id}</code>
          <span className="watching muted small" data-testid="watching" title="Dashboards watching this video now, this one included">
            {p.watching === undefined ? '—' : `${num(p.watching)} watching`}
          </span>
        </div>
        <button type="button" className="btn btn-like" onClick={like} disabled={liking} aria-label={`Like ${video.title}`}>
          <svg aria-hidden="true" viewBox="0 0 24 24" width="16" height="16">
            <path fill="currentColor" d="M12 21s-7.5-4.6-9.6-9.1C.9 8.6 3 5 6.6 5c2.1 0 3.6 1.2 4.4 2.5h2C13.8 6.2 15.3 5 17.4 5 21 5 23.1 8.6 21.6 11.9 19.5 16.4 12 21 12 21Z" />
          </svg>
          Like
        </button>
      </header>
      {likeError && (
        <p className="error-text small" role="alert">
          {likeError}
        </p>
      )}

      <dl className="windows">
        {windows.map((w) => (
          <div key={w} className={`win${drift && drift[w] ? ' win-drift' : ''}`} data-window={w}>
            <dt>{w}</dt>
            <dd>
              <Count value={counts?.[w]} />
            </dd>
            {expected?.[w] && (
              <dd className="expected" data-expected={expected[w]!.lo} data-expected-hi={expected[w]!.hi} title="Expected from the events this tab sent">
                exp {expected[w]!.lo === expected[w]!.hi ? num(expected[w]!.lo) : `${num(expected[w]!.lo)}–${num(expected[w]!.hi)}`}
              </dd>
            )}
          </div>
        ))}
      </dl>

      <div className="trend">
        <Sparkline values={p.history} label="Likes per minute, last 10 minutes" />
        <div className="trend-foot">
          <span className="muted">
            {p.history && p.history.length > 1 ? `10 min · peak ${num(Math.max(...p.history))}/min` : 'no history yet'}
          </span>
          <button
            type="button"
            className="btn btn-small history-toggle"
            aria-expanded={showHistory}
            aria-controls={historyId}
            onClick={() => setShowHistory((v) => !v)}
          >
            History
            <svg aria-hidden="true" viewBox="0 0 24 24" width="14" height="14">
              <path fill="none" stroke="currentColor" strokeWidth="2.5" strokeLinecap="round" strokeLinejoin="round" d="m6 9 6 6 6-6" />
            </svg>
          </button>
        </div>
      </div>
      <div id={historyId} className="video-history" hidden={!showHistory}>
        {/* Mounted only while open: a closed history asks the server nothing. */}
        {showHistory && (
          <Suspense
            fallback={
              <div className="chart-empty muted small" role="img" aria-label={`History of ${video.id}`}>
                Loading history…
              </div>
            }
          >
            <VideoHistory subject={video.id} />
          </Suspense>
        )}
      </div>

      {expected && (
        <p className={`sync ${counts === undefined ? 'sync-wait' : drifting.length ? 'sync-bad' : 'sync-ok'}`} role={drifting.length ? 'alert' : undefined}>
          {counts === undefined
            ? 'Waiting for live counts'
            : drifting.length
              ? `Drift on ${drifting.map((w) => `${w} (${drift![w]! > 0 ? '+' : ''}${drift![w]})`).join(', ')}`
              : 'Observed matches expected'}
        </p>
      )}

      <fieldset className="gen">
        <legend>Generator</legend>
        <div className="gen-row">
          <input
            type="range"
            min={0}
            max={SLIDER_MAX}
            step={10}
            value={Math.min(gen.rate, SLIDER_MAX)}
            onChange={(e) => p.onRate(video.id, Number(e.target.value))}
            aria-label={`Likes per minute for ${video.title}`}
          />
          <input
            type="number"
            className="rate-input"
            min={0}
            max={MAX_RATE}
            value={gen.rate}
            onChange={(e) => p.onRate(video.id, Math.min(MAX_RATE, Math.max(0, Number(e.target.value) || 0)))}
            aria-label={`Likes per minute for ${video.title} (number)`}
          />
          <span className="unit">/min</span>
          <button
            type="button"
            className={`btn btn-small ${gen.running ? 'btn-stop' : 'btn-start'}`}
            onClick={() => p.onToggle(video.id)}
            aria-pressed={gen.running}
            data-generator={gen.running ? 'running' : 'stopped'}
          >
            {gen.running ? 'Stop' : 'Start'}
          </button>
        </div>
        {(gen.sent > 0 || gen.running) && (
          <p className="gen-stats muted">
            sent {num(gen.sent)} · counted {num(gen.counted)}
            {gen.rejected > 0 && <> · <span className="error-text">rejected {num(gen.rejected)}</span></>}
            {gen.queued > 0 && <> · queued {num(gen.queued)}</>}
            {gen.stalled && <> · <span className="error-text">stalled</span></>}
          </p>
        )}
        {gen.lastError && (
          <p className="error-text small" role="alert">
            {gen.lastError}
          </p>
        )}
      </fieldset>
    </article>
  );
});
