/**
 * HistoryChart: one subject's events per step (a minute by default) over time, from
 * GET /v1/counts?type=T&subject=S&from=F&to=U&step=1m, with time axes and a hover tooltip.
 *
 * Props:
 * - subject: the subject counted, e.g. "video-7"; the accessible name is "History of <subject>".
 * - series: what toSeries made of the answer (loadHistory fetches and converts); undefined while
 *   loading.
 * - what: the tooltip's name for the counts, e.g. "likes" (default "events").
 * - height: px of the plot and axes (default 200); the width follows the container.
 */
import { useMemo } from 'react';
import type uPlot from 'uplot';
import { api } from '../../api/http';
import type { CountsResponse } from '../../api/types';
import { dateTime, num, toMillis } from '../../lib/format';
import { Chart, type ChartProps } from './Chart';
import { pathStyle } from './style';
import { timeChart } from './timeChart';

/** Counts per step: times[i] (unix ms) starts the step [times[i], times[i+1]); null is no point. */
export interface HistorySeries {
  times: number[];
  counts: Array<number | null>;
}

export interface HistoryQuery {
  type: string;
  subject: string;
  /** unix ms; the server widens [from, to) to whole minutes and clips it to the history kept */
  from: number;
  to: number;
  /** whole minutes: "1m" (default), "15m", "1h" */
  step?: string;
}

/** loadHistory asks GET /v1/counts for one subject's series: a query function as it is. */
export async function loadHistory(q: HistoryQuery, signal?: AbortSignal): Promise<HistorySeries> {
  return toSeries(await api<CountsResponse>('/v1/counts', { query: { ...q, step: q.step ?? '1m' }, signal }));
}

/**
 * toSeries lays an answer of /v1/counts out on every step of the range it counted (its from and
 * to), so a step the answer has no point for is a gap (null), not a zero. The step is the
 * answer's spacing; a lone point spans the range.
 */
export function toSeries(r: CountsResponse): HistorySeries {
  const points = r.series ?? [];
  const from = toMillis(r.from) ?? NaN;
  const to = toMillis(r.to) ?? NaN;
  const gaps = points.slice(1).map((p, i) => p.t - points[i]!.t);
  const step = Math.min(to - from, ...gaps.filter((g) => g > 0));
  if (points.length === 0 || !(step > 0)) return { times: [], counts: [] };
  const times = Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => from + i * step);
  const counts: Array<number | null> = times.map(() => null);
  for (const p of points) {
    const i = Math.round((p.t - from) / step);
    if (i >= 0 && i < counts.length) counts[i] = p.count;
  }
  return { times, counts };
}

export interface HistoryChartProps {
  subject: string;
  series: HistorySeries | undefined;
  what?: string;
  height?: number;
}

export function HistoryChart({ subject, series, what = 'events', height = 200 }: HistoryChartProps) {
  const label = `History of ${subject}`;
  const options = useMemo(() => historyOptions(what), [what]);
  const data = useMemo((): uPlot.AlignedData => [series?.times ?? [], series?.counts ?? []], [series]);
  if (!series || series.times.length < 2) {
    return (
      <div className="chart-empty muted small" role="img" aria-label={label}>
        {series ? 'No history for this range.' : 'Loading history…'}
      </div>
    );
  }
  return <Chart className="chart" label={label} height={height} options={options} data={data} />;
}

function historyOptions(what: string): ChartProps['options'] {
  return (box, lib) => {
    const base = timeChart(box, lib, { time: dateTime });
    // The card's sparkline at full size: the same likes per minute, the same colors.
    const line = pathStyle(box, 'spark-line');
    const counts: uPlot.Series = {
      label: what,
      stroke: line.stroke,
      width: line.width,
      fill: pathStyle(box, 'spark-area').fill,
      // A count holds for its whole step: a stair, not a slope between steps.
      paths: lib.paths.stepped!({ align: 1 }),
      value: (_u, v) => num(v),
    };
    return { ...base, series: [...base.series, counts] };
  };
}
