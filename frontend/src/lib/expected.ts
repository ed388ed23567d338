// Expected counts: what the server's windows must show for the events this tab has had
// counted. The server counts distinct events whose time lies in (now − W, now] at one-second
// resolution (shared/design.md); this applies the same rule to the events we sent, so a drift
// between expected and observed is a real discrepancy, not rounding.

import type { WindowCounts } from '../api/types';

export interface WindowSpec {
  name: string;
  seconds: number;
}

/** parseDuration reads a Go-style duration ("1m", "90s", "1h30m") in whole seconds; null if malformed. */
export function parseDuration(s: string): number | null {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s)) !== null) {
    const v = parseFloat(m[1]!);
    total += m[2] === 'h' ? v * 3600 : m[2] === 'm' ? v * 60 : m[2] === 's' ? v : v / 1000;
    end = re.lastIndex;
  }
  if (end === 0 || end !== s.length) return null;
  return Math.round(total);
}

export function windowSpecs(names: string[]): WindowSpec[] {
  return names.flatMap((name) => {
    const seconds = parseDuration(name);
    return seconds ? [{ name, seconds }] : [];
  });
}

/** inWindow: an event in second s counts at second now for a window of w seconds. */
export function inWindow(s: number, now: number, w: number): boolean {
  return s > now - w && s <= now;
}

/** Range is what observed may be: exactly lo when nothing predates tracking, else up to hi. */
export interface Range {
  lo: number;
  hi: number;
}

interface Tracked {
  start: number; // ms
  pre: WindowCounts; // observed when tracking began: counted, but their times are unknown
  buckets: Map<number, number>; // second → events
}

export class ExpectedCounts {
  private subjects = new Map<string, Tracked>();

  /** track starts accounting for subject, given what the board showed at that moment. */
  track(subject: string, nowMs: number, observed: WindowCounts = {}): void {
    if (!this.subjects.has(subject)) this.subjects.set(subject, { start: nowMs, pre: { ...observed }, buckets: new Map() });
  }

  tracking(subject: string): boolean {
    return this.subjects.has(subject);
  }

  untrack(subject: string): void {
    this.subjects.delete(subject);
  }

  add(subject: string, timeMs: number, n = 1): void {
    const t = this.subjects.get(subject);
    if (!t) return;
    const s = Math.floor(timeMs / 1000);
    t.buckets.set(s, (t.buckets.get(s) ?? 0) + n);
  }

  /**
   * range is, per window, the expected count at nowMs. Events that were counted before tracking
   * began leave their window at unknown times within W of the start, so until then hi adds them.
   */
  range(subject: string, nowMs: number, windows: WindowSpec[]): Record<string, Range> | null {
    const t = this.subjects.get(subject);
    if (!t) return null;
    const now = Math.floor(nowMs / 1000);
    const out: Record<string, Range> = {};
    for (const w of windows) {
      let lo = 0;
      for (const [s, n] of t.buckets) if (inWindow(s, now, w.seconds)) lo += n;
      const carried = nowMs - t.start < w.seconds * 1000 ? (t.pre[w.name] ?? 0) : 0;
      out[w.name] = { lo, hi: lo + carried };
    }
    return out;
  }

  /** prune forgets buckets older than the longest window. */
  prune(nowMs: number, longestSeconds: number): void {
    const now = Math.floor(nowMs / 1000);
    for (const t of this.subjects.values()) {
      for (const s of t.buckets.keys()) if (s <= now - longestSeconds) t.buckets.delete(s);
    }
  }
}

/** drift is how far observed lies outside range ± tolerance: 0 when they agree. */
export function drift(observed: number, r: Range, tolerance: number): number {
  if (observed < r.lo - tolerance) return observed - r.lo;
  if (observed > r.hi + tolerance) return observed - r.hi;
  return 0;
}

/** DriftHold shows a drift only once it has lasted holdMs: counts in flight settle within a tick. */
export class DriftHold {
  private since = new Map<string, number>();
  constructor(readonly holdMs: number) {}

  /** held is off once key has drifted since holdMs before nowMs, else 0; a 0 ends the drift. */
  held(key: string, off: number, nowMs: number): number {
    if (off === 0) {
      this.since.delete(key);
      return 0;
    }
    const since = this.since.get(key) ?? nowMs;
    this.since.set(key, since);
    return nowMs - since >= this.holdMs ? off : 0;
  }
}
