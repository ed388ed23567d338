import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
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

/** useKey is the API key in use; components re-fetch when it changes. */
export function useKey(): string | null {
  return useSyncExternalStore(onKeyChange, getKey);
}

export interface Poll<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** When data last arrived. */
  at: number;
  refresh: () => void;
}

/**
 * usePoll runs load now and every intervalMs (not while the tab is hidden), again when deps or
 * the API key change. A failure keeps the last data and shows the error next to it.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, intervalMs: number, deps: unknown[]): Poll<T> {
  const key = useKey();
  const [state, setState] = useState<Omit<Poll<T>, 'refresh'>>({ data: undefined, error: null, loading: true, at: 0 });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ctrl: AbortController | undefined;
    const run = async () => {
      if (stopped) return;
      if (document.hidden) {
        timer = setTimeout(run, intervalMs);
        return;
      }
      ctrl = new AbortController();
      setState((s) => ({ ...s, loading: true }));
      try {
        const data = await loadRef.current(ctrl.signal);
        if (!stopped) setState({ data, error: null, loading: false, at: Date.now() });
      } catch (error) {
        if (!stopped && !(error instanceof DOMException && error.name === 'AbortError')) {
          setState((s) => ({ ...s, error, loading: false }));
        }
      }
      if (!stopped && intervalMs > 0) timer = setTimeout(run, intervalMs);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ctrl?.abort();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, key, tick, intervalMs]);

  return { ...state, refresh: () => setTick((t) => t + 1) };
}

/** useNow is the time, refreshed every ms (aligned to the period, so second-based views turn together). */
export function useNow(ms: number, active = true): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!active) return;
    let t: ReturnType<typeof setTimeout>;
    const next = () => {
      t = setTimeout(() => {
        setNow(Date.now());
        next();
      }, ms - (Date.now() % ms) + 5);
    };
    next();
    return () => clearTimeout(t);
  }, [ms, active]);
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
