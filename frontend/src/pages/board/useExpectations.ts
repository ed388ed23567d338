import { useMemo, useState } from 'react';
import type { WindowCounts } from '../../api/types';
import { drift, DriftHold, windowSpecs, type ExpectedCounts, type Range } from '../../lib/expected';
import { perTick, type GenStats } from '../../lib/generator';

/** A drift must last this long before it is shown: counts in flight settle within a tick. */
const DRIFT_HOLD_MS = 2000;

export interface Expectations {
  /** Per tracked video and window, what its count should be. */
  ranges: Record<string, Record<string, Range>>;
  /** Per tracked video and window, observed − expected beyond one tick's events, once held (0: in sync). */
  drifts: Record<string, Record<string, number>>;
}

interface Input {
  ids: string[];
  windows: string[];
  counts: Record<string, WindowCounts> | undefined;
  expected: ExpectedCounts;
  gen: { stats(id: string): GenStats; tickMs: number };
  /** Server time to evaluate at: it moves once a second, and when events are counted. */
  now: number;
}

/** useExpectations compares each tracked video's observed counts with what this tab's events add up to. */
export function useExpectations({ ids, windows, counts, expected, gen, now }: Input): Expectations {
  const specs = useMemo(() => windowSpecs(windows), [windows]);
  const [hold] = useState(() => new DriftHold(DRIFT_HOLD_MS));
  return useMemo(() => {
    expected.prune(now, specs.at(-1)?.seconds ?? 600);
    const ranges: Expectations['ranges'] = {};
    const drifts: Expectations['drifts'] = {};
    for (const id of ids) {
      const r = expected.range(id, now, specs);
      if (!r) continue;
      ranges[id] = r;
      const s = gen.stats(id);
      const tol = perTick(s.running ? s.rate : 0, gen.tickMs);
      const d: Record<string, number> = {};
      for (const w of windows) {
        const obs = counts?.[id]?.[w];
        const off = obs === undefined || !r[w] ? 0 : drift(obs, r[w]!, tol);
        d[w] = hold.held(`${id}\n${w}`, off, now);
      }
      drifts[id] = d;
    }
    return { ranges, drifts };
  }, [now, ids, windows, specs, counts, expected, gen, hold]);
}
