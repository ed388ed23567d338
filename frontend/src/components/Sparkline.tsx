import { useMemo } from 'react';
import type uPlot from 'uplot';
import { Chart, type ChartOptions } from './charts/Chart';
import { pathStyle } from './charts/style';

/**
 * Sparkline draws values (oldest first) as a small area chart that fills its container's width:
 * no axes, no legend, no cursor; the values are in its accessible name.
 */
export function Sparkline({ values, label, height = 30 }: { values: number[] | undefined; label: string; height?: number }) {
  const data = useMemo(() => sparkData(values ?? []), [values]);
  if (!values || values.length < 2) {
    return <div className="spark spark-empty" style={{ height }} role="img" aria-label={`${label}: no history yet`} />;
  }
  return <Chart className="spark" label={`${label}: ${values.join(', ')}`} height={height} options={sparkOptions} data={data} />;
}

/** sparkData puts values at x = 0, 1, 2…: a sparkline shows a shape, not times. */
export function sparkData(values: number[]): uPlot.AlignedData {
  return [values.map((_, i) => i), values];
}

function sparkOptions(box: HTMLElement): ChartOptions {
  const line = pathStyle(box, 'spark-line');
  return {
    // The top pixel keeps the peak's stroke whole; the floor is the box's bottom edge.
    padding: [2, 0, 0, 0],
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: line.stroke, width: line.width, fill: pathStyle(box, 'spark-area').fill, points: { show: false } }],
  };
}
