/**
 * Sparkline draws values (oldest first) as a small area chart that fills its container's
 * width; strokes keep their width however it is stretched.
 */
export function Sparkline({ values, label, height = 30 }: { values: number[] | undefined; label: string; height?: number }) {
  const W = 200;
  if (!values || values.length < 2) {
    return <div className="spark spark-empty" style={{ height }} role="img" aria-label={`${label}: no history yet`} />;
  }
  const max = Math.max(1, ...values);
  const step = W / (values.length - 1);
  const y = (v: number) => height - 1 - (v / max) * (height - 3);
  const line = values.map((v, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${y(v).toFixed(1)}`).join('');
  return (
    <svg className="spark" viewBox={`0 0 ${W} ${height}`} preserveAspectRatio="none" style={{ height }} role="img" aria-label={`${label}: ${values.join(', ')}`}>
      <path className="spark-area" d={`${line}L${W},${height}L0,${height}Z`} />
      <path className="spark-line" d={line} vectorEffect="non-scaling-stroke" />
    </svg>
  );
}
