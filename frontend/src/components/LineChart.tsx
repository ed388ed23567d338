import { useMemo } from 'react';
import type uPlot from 'uplot';
import { Chart, type ChartProps } from './charts/Chart';
import { pathStyle } from './charts/style';
import { compact, timeChart } from './charts/timeChart';

export interface Series {
  name: string;
  className: string;
  values: Array<number | null>;
  /** Fill under the line (for the series the others are measured against). */
  area?: boolean;
}

/** LineChart draws series over shared timestamps (unix ms); gaps (null) break the line. */
export function LineChart({ times, series, label, unit }: { times: number[]; series: Series[]; label: string; unit: string }) {
  // Options depend on which lines there are, not on their values: the chart is rebuilt only
  // when a line comes or goes, and new samples go through setData.
  const shape = JSON.stringify(series.map(({ name, className, area }) => ({ name, className, area })));
  const options = useMemo(() => lineOptions(JSON.parse(shape) as Omit<Series, 'values'>[], unit), [shape, unit]);
  const data = useMemo(() => alignedData(times, series), [times, series]);
  if (times.length < 2) {
    return (
      <div className="chart-empty muted small" role="img" aria-label={`${label}: not enough samples yet`}>
        Collecting samples… rates appear after the first few seconds.
      </div>
    );
  }
  return <Chart className="chart" label={label} height={200} options={options} data={data} />;
}

/**
 * alignedData lays series out as uPlot reads them: x first, then one array per series of the same
 * length. A missing value becomes null, a gap, because uPlot draws straight across undefined.
 */
export function alignedData(times: number[], series: Array<{ values: Array<number | null> }>): uPlot.AlignedData {
  return [times, ...series.map((s) => times.map((_, i) => s.values[i] ?? null))];
}

function lineOptions(lines: Omit<Series, 'values'>[], unit: string): ChartProps['options'] {
  return (box, lib) => {
    const base = timeChart(box, lib, { time: (ms) => new Date(ms).toLocaleTimeString(), unit });
    const drawn = lines.map((s): uPlot.Series => {
      const line = pathStyle(box, `series ${s.className}`);
      return {
        label: s.name,
        stroke: line.stroke,
        width: line.width,
        dash: line.dash,
        fill: s.area ? pathStyle(box, `series-area ${s.className}`).fill : undefined,
        value: (_u, v) => (v === null ? '—' : compact(v)),
      };
    });
    return { ...base, series: [...base.series, ...drawn] };
  };
}
