import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useNow } from '../api/hooks';
import { errorText } from '../api/http';
import { keys } from '../api/query';
import { num } from '../lib/format';
import { LIKE_TYPE } from '../lib/videos';
import { HistoryChart, loadHistory, type HistoryQuery } from './charts/HistoryChart';

const MINUTE = 60_000;
/** How often the open chart asks again: the current minute is still filling. */
export const HISTORY_REFRESH_MS = 30_000;

/**
 * lastHour is the hour of likes of subject up to now, per minute, on whole minutes: the current
 * minute (still filling) is the last step. The range moves only when the minute turns, so it can
 * be a query key.
 */
export function lastHour(subject: string, now: number): Required<HistoryQuery> {
  const to = Math.floor(now / MINUTE) * MINUTE + MINUTE;
  return { type: LIKE_TYPE, subject, from: to - 60 * MINUTE, to, step: '1m' };
}

/**
 * VideoHistory is a video's likes per minute over the last hour (GET /v1/counts), refreshed
 * every 30 s and moved on as each minute turns. Mounted only while shown: nothing is fetched for
 * a closed chart.
 */
export function VideoHistory({ subject }: { subject: string }) {
  const now = useNow(MINUTE);
  const q = lastHour(subject, now);
  const history = useQuery({
    queryKey: keys.counts(q.type, q.subject, q),
    queryFn: ({ signal }) => loadHistory(q, signal),
    refetchInterval: HISTORY_REFRESH_MS,
    // The previous minute's chart stays up while the next range loads.
    placeholderData: keepPreviousData,
  });
  const counts = history.data?.counts.filter((c): c is number => c !== null) ?? [];

  return (
    <>
      <p className="video-history-head muted small">
        <span>Likes per minute, last hour</span>
        {counts.length > 0 && (
          <span>
            {num(counts.reduce((a, b) => a + b, 0))} in all · peak {num(Math.max(...counts))}/min
          </span>
        )}
      </p>
      {history.error !== null && history.data === undefined ? (
        <p className="error-text small" role="alert">
          Could not load the history: {errorText(history.error)}{' '}
          <button type="button" className="link-button" onClick={() => void history.refetch()}>
            Retry
          </button>
        </p>
      ) : (
        <HistoryChart subject={subject} series={history.data} what="likes" height={150} />
      )}
    </>
  );
}
