import type uPlot from 'uplot';
import type { ChartOptions } from './Chart';
import { pathStyle } from './style';

/** What a time chart says beside its lines: how the hovered time reads, and the y unit if any. */
export interface TimeChartText {
  time: (ms: number) => string;
  unit?: string;
}

/**
 * timeChart is the frame every Pulse time chart shares: x in unix ms, y from 0 (counts and rates
 * are never negative, and a zero floor keeps small wiggles small), axes and grid in the page's
 * .axis and .grid-line styles. Its series holds only x: append the lines.
 */
export function timeChart(box: HTMLElement, lib: typeof uPlot, text: TimeChartText): ChartOptions {
  const axis = pathStyle(box, 'axis');
  const grid = { stroke: pathStyle(box, 'grid-line').stroke, width: 1 };
  const frame = { stroke: axis.fill, font: axis.font, grid, ticks: grid };
  return {
    ms: 1,
    // No drag to zoom: the next samples would reset the zoom a moment later.
    cursor: { drag: { x: false, y: false } },
    scales: { y: { range: (_u, _min, max) => lib.rangeNum(0, Math.max(1, max), 0.1, true) } },
    axes: [
      frame,
      { ...frame, values: (_u, ticks) => ticks.map(compact), label: text.unit, labelFont: axis.font, labelSize: text.unit ? 18 : 0 },
    ],
    series: [{ value: (_u, t) => (t === null ? '—' : text.time(t)) }],
  };
}

/** compact writes a value in at most four characters or so: 0.5, 12, 1.2k, 15k. */
export function compact(v: number): string {
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k`;
  return v < 10 ? String(Math.round(v * 10) / 10) : String(Math.round(v));
}
