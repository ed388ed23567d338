import { createContext, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import { getKey, onKeyChange } from './keys';
import type { LiveClient, LiveStatus } from './live';

export const LiveContext = createContext<LiveClient | null>(null);

export function useLive(): LiveClient {
  const c = useContext(LiveContext);
  if (!c) throw new Error('useLive outside <LiveContext>');
  return c;
}

export function useLiveStatus(): LiveStatus {
  const c = useLive();
  return useSyncExternalStore(
    (l) => c.onStatus(l),
    () => c.getStatus(),
  );
}

/** useKey is the API key in use. */
export function useKey(): string | null {
  return useSyncExternalStore(onKeyChange, getKey);
}

/**
 * useNow is clock's time, refreshed every ms (aligned to the period, so second-based views turn
 * together). clock must be stable.
 */
export function useNow(ms: number, active = true, clock: () => number = Date.now): number {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    if (!active) return;
    let t: ReturnType<typeof setTimeout>;
    const next = () => {
      t = setTimeout(() => {
        setNow(clock());
        next();
      }, ms - (Date.now() % ms) + 5);
    };
    next();
    return () => clearTimeout(t);
  }, [ms, active, clock]);
  return now;
}

/** useDebounced is value once it has stopped changing for ms. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

export interface Debounce {
  /** run calls fn once ms have passed without another run; the earlier fn is dropped. */
  (fn: () => void): void;
  cancel(): void;
}

export function debouncer(ms: number): Debounce {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = (fn: () => void) => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

/** useDebounce is a debouncer that drops what is pending when the component unmounts. */
export function useDebounce(ms: number): Debounce {
  const [d] = useState(() => debouncer(ms));
  useEffect(() => d.cancel, [d]);
  return d;
}
