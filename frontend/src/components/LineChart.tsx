import { useEffect, useState } from 'react';

export interface Series {
  name: string;
  className: string;
  values: Array<number | null>;
  /** Fill under the line (for the series the others are measured against). */
  area?: boolean;
}

/** LineChart draws series over shared timestamps; gaps (null) break the line. */
export function LineChart({ times, series, label, unit }: { times: number[]; series: Series[]; label: string; unit: string }) {
  // Drawn at the container's pixel width, so text and strokes keep their size at any width.
  const [box, setBox] = useState<HTMLDivElement | null>(null);
  const W = useWidth(box) || 640;
  const H = 200;
  const pad = { l: 44, r: 8, t: 10, b: 22 };
  if (times.length < 2) {
    return (
      <div ref={setBox}>
      <div className="chart-empty muted small" role="img" aria-label={`${label}: not enough samples yet`}>
        Collecting samples… rates appear after the first few seconds.
      </div>
      </div>
    );
  }
  const t0 = times[0]!;
  const t1 = times[times.length - 1]!;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = niceMax(Math.max(1, ...all));
  const x = (t: number) => pad.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - pad.l - pad.r);
  const y = (v: number) => pad.t + (1 - v / max) * (H - pad.t - pad.b);
  const path = (vals: Array<number | null>) => {
    let d = '';
    let pen = false;
    vals.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(times[i]!).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  };
  const spanMin = Math.round((t1 - t0) / 60_000);
  return (
    <div ref={setBox}>
    <svg className="chart" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      {[0, 0.5, 1].map((f) => (
        <g key={f}>
          <line className="grid-line" x1={pad.l} x2={W - pad.r} y1={y(max * f)} y2={y(max * f)} />
          <text className="axis" x={pad.l - 6} y={y(max * f) + 4} textAnchor="end">
            {fmt(max * f)}
          </text>
        </g>
      ))}
      <text className="axis" x={pad.l} y={H - 4}>
        {spanMin >= 1 ? `${spanMin} min ago` : `${Math.round((t1 - t0) / 1000)} s ago`}
      </text>
      <text className="axis" x={W - pad.r} y={H - 4} textAnchor="end">
        now ({unit})
      </text>
      {series.map((s) => {
        const d = path(s.values);
        const first = s.values.findIndex((v) => v !== null);
        const last = s.values.length - 1 - [...s.values].reverse().findIndex((v) => v !== null);
        const fill = s.area && first >= 0 && s.values.every((v, i) => i < first || i > last || v !== null);
        return (
          <g key={s.name}>
            {fill && <path className={`series-area ${s.className}`} d={`${d}L${x(times[last]!)},${y(0)}L${x(times[first]!)},${y(0)}Z`} />}
            <path className={`series ${s.className}`} d={d} />
          </g>
        );
      })}
    </svg>
    </div>
  );
}

function useWidth(el: HTMLElement | null): number {
  const [w, setW] = useState(0);
  useEffect(() => {
    if (!el) return;
    setW(el.clientWidth);
    const ro = new ResizeObserver(() => setW(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, [el]);
  return w;
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k`;
  return v < 10 ? String(Math.round(v * 10) / 10) : String(Math.round(v));
}
