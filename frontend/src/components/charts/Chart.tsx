import { useEffect, useRef, useSyncExternalStore } from 'react';
import type uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './charts.css';

/** uPlot's options but the size: the chart is as wide as its box and as high as asked. */
export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

export interface ChartProps {
  /** Accessible name: a canvas says nothing to a screen reader, so this says what it shows. */
  label: string;
  className: string;
  /** Height of the plot and axes in px; the width follows the box. */
  height: number;
  /**
   * Builds the options from the chart's box (colors come from the page's CSS there) and uPlot
   * itself (for its path builders and helpers, as it is loaded on demand). A new function builds
   * a new chart: keep it stable (module level or useMemo).
   */
  options: (box: HTMLElement, lib: typeof uPlot) => ChartOptions;
  data: uPlot.AlignedData;
}

/**
 * Chart draws uPlot into a labelled box: made once, fed by setData, resized with its box and
 * rebuilt only for new options or a new color scheme. Hovering shows uPlot's cursor and the
 * legend (styled as a tooltip in charts.css) with the values at that time.
 */
export function Chart({ label, className, height, options, data }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(data);
  // Canvas colors are read once per chart, so a scheme change needs a new chart.
  const dark = useSyncExternalStore(onSchemeChange, isDark);

  useEffect(() => {
    latest.current = data;
    plot.current?.setData(data);
  }, [data]);

  useEffect(() => {
    const el = box.current;
    if (!el || !canDraw()) return;
    let u: uPlot | undefined;
    let ro: ResizeObserver | undefined;
    let gone = false;
    // uPlot is a chunk of its own: a page shows its text without waiting for it.
    void import('uplot').then(({ default: UPlot }) => {
      if (gone) return;
      const made = new UPlot({ ...options(el, UPlot), width: el.clientWidth, height }, latest.current, el);
      ro = new ResizeObserver(() => made.setSize({ width: el.clientWidth, height }));
      ro.observe(el);
      plot.current = u = made;
    });
    return () => {
      gone = true;
      ro?.disconnect();
      u?.destroy();
      plot.current = null;
    };
  }, [options, height, dark]);

  return <div ref={box} className={`chart-box ${className}`} style={{ height }} role="img" aria-label={label} />;
}

let drawable: boolean | undefined;

// happy-dom (the unit tests) has no canvas: there a chart is its labelled box and uPlot never runs.
function canDraw(): boolean {
  drawable ??= document.createElement('canvas').getContext('2d') !== null;
  return drawable;
}

const DARK = '(prefers-color-scheme: dark)';

function onSchemeChange(notify: () => void): () => void {
  const mq = matchMedia(DARK);
  mq.addEventListener('change', notify);
  return () => mq.removeEventListener('change', notify);
}

function isDark(): boolean {
  return matchMedia(DARK).matches;
}
