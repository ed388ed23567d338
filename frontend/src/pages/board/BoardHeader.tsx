import { useState } from 'react';
import { MAX_RATE } from '../../components/VideoCard';
import { VideosDialog } from '../../components/VideosDialog';
import { num } from '../../lib/format';
import type { Video } from '../../lib/videos';

interface Props {
  windows: string[];
  videos: Video[];
  /** Generators running, and their likes per minute together. */
  running: number;
  ratePerMin: number;
  onStartAll(rate: number): void;
  onStopAll(): void;
  onVideos(v: Video[] | null): void;
}

/** BoardHeader says what the board shows and holds the controls of every generator at once. */
export function BoardHeader({ windows, videos, running, ratePerMin, onStartAll, onStopAll, onVideos }: Props) {
  const [allRate, setAllRate] = useState(600);
  return (
    <div className="page-head">
      <div>
        <h1>Live board</h1>
        <p className="muted">
          Likes per video over the last {windows.join(' / ')}, pushed live. {videos.length} videos
          {running > 0 && (
            <>
              {' '}
              · <strong>{running}</strong> generator{running > 1 ? 's' : ''} at {num(ratePerMin)} likes/min
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
        <button type="button" className="btn" onClick={() => onStartAll(allRate)}>
          Start all
        </button>
        <button type="button" className="btn" onClick={onStopAll} disabled={running === 0}>
          Stop all
        </button>
        <VideosDialog videos={videos} onSave={onVideos} />
      </div>
    </div>
  );
}
