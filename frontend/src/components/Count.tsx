import { useLayoutEffect, useRef } from 'react';
import { num } from '../lib/format';

/** A number animates at most this often: a count changing ten times a second stays calm. */
const COOLDOWN_MS = 1200;

/**
 * Count shows a number that gives a small lift when it rises and dims briefly when it falls.
 * The effect animates only transform and opacity of the element itself (the compositor's
 * work, no DOM churn, no repaint per frame), and at most once per cooldown.
 */
export function Count({ value }: { value: number | undefined }) {
  const ref = useRef<HTMLSpanElement>(null);
  const prev = useRef(value);
  const last = useRef(0);
  useLayoutEffect(() => {
    const el = ref.current;
    const before = prev.current;
    prev.current = value;
    if (!el?.animate || before === undefined || value === undefined || before === value) return;
    const now = performance.now();
    if (now - last.current < COOLDOWN_MS || matchMedia('(prefers-reduced-motion: reduce)').matches) return;
    last.current = now;
    el.animate(
      value > before
        ? [{ transform: 'translateY(-4px)', opacity: 0.6 }, { transform: 'none', opacity: 1 }]
        : [{ opacity: 0.45 }, { opacity: 1 }],
      { duration: 500, easing: 'ease-out' },
    );
  }, [value]);
  return (
    <span ref={ref} className="num" data-count={value ?? ''}>
      {num(value)}
    </span>
  );
}
