// LiveClient speaks the /v1/live WebSocket protocol: it keeps one connection, subscribes on
// open, reconnects with jittered exponential backoff, and re-subscribes (for a fresh snapshot)
// whenever a subscription's seq skips a number, so the numbers shown are never silently stale.

import type { SubjectCounts, TopEntry, WindowCounts } from './types';

export type LiveState = 'idle' | 'connecting' | 'live' | 'reconnecting';

export interface LiveStatus {
  state: LiveState;
  /** Failed connection attempts in a row. */
  attempt: number;
  /** When the next attempt starts (ms since epoch), while reconnecting. */
  retryAt?: number;
  /** Subscriptions re-made because of a seq gap, since start. */
  gaps: number;
}

export type LiveRequest =
  /** watch: count this connection as watching the subjects, and have counts carry "watching". */
  | { type: string; subjects: string[]; watch?: boolean }
  | { type: string; top: { window: string; limit: number } };

export interface LiveHandlers {
  /** Full counts of every subscribed subject (after subscribe, reconnect or a gap). */
  snapshot?(counts: SubjectCounts[], at: number): void;
  /** Counts of the subjects that changed. */
  update?(counts: SubjectCounts[], at: number): void;
  top?(entries: TopEntry[], window: string, at: number): void;
  error?(code: string, message: string): void;
}

/** The parts of the browser's WebSocket the client uses (a fake in tests). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface LiveOptions {
  /** Called at every connection attempt, so a key set meanwhile is used. */
  url: () => string;
  socket?: (url: string) => SocketLike;
  /** First retry delay; doubles per failed attempt up to maxDelayMs, then jittered to 50–100 %. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A connection that stayed open this long resets the backoff. */
  stableMs?: number;
  random?: () => number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

const OPEN = 1;

interface Sub {
  key: number;
  gen: number;
  wireId: string;
  req: LiveRequest;
  handlers: LiveHandlers;
  seq?: number;
}

/** backoffDelay is the wait before attempt n (0-based): min(max, base·2ⁿ), jittered to 50–100 %. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/**
 * parseCounts turns wire counts ({"subject", "1m": 3, …, "watching": 2}) into SubjectCounts:
 * every other numeric field is a window.
 */
export function parseCounts(raw: unknown): SubjectCounts[] {
  if (!Array.isArray(raw)) return [];
  const out: SubjectCounts[] = [];
  for (const item of raw) {
    if (!item || typeof item !== 'object') continue;
    const { subject, watching, ...rest } = item as Record<string, unknown>;
    if (typeof subject !== 'string') continue;
    const counts: WindowCounts = {};
    for (const [k, v] of Object.entries(rest)) if (typeof v === 'number') counts[k] = v;
    out.push(typeof watching === 'number' ? { subject, counts, watching } : { subject, counts });
  }
  return out;
}

export class LiveClient {
  private readonly opts: Required<Omit<LiveOptions, 'socket'>> & { socket: (url: string) => SocketLike };
  private ws: SocketLike | null = null;
  private subs = new Map<number, Sub>();
  private byWire = new Map<string, Sub>();
  private nextKey = 1;
  private timer: unknown = null;
  private openedAt = 0;
  private running = false;
  private status: LiveStatus = { state: 'idle', attempt: 0, gaps: 0 };
  private skew = 0;
  private statusListeners = new Set<(s: LiveStatus) => void>();

  constructor(opts: LiveOptions) {
    this.opts = {
      baseDelayMs: 500,
      maxDelayMs: 15_000,
      stableMs: 5_000,
      random: Math.random,
      now: Date.now,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      socket: (url) => new WebSocket(url) as unknown as SocketLike,
      ...opts,
    };
  }

  /**
   * serverNow is the server's clock (Redis TIME), from the frames' "at": windows are counted on
   * it, so expected counts and generated event times use it too. A browser clock a few seconds
   * off would otherwise show drift at every window edge.
   */
  serverNow(): number {
    return this.opts.now() + this.skew;
  }

  getStatus(): LiveStatus {
    return this.status;
  }

  onStatus(l: (s: LiveStatus) => void): () => void {
    this.statusListeners.add(l);
    return () => this.statusListeners.delete(l);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    this.cancelTimer();
    this.dropSocket();
    this.setStatus({ state: 'idle', attempt: 0, retryAt: undefined });
  }

  /** Drop the current connection (or the wait for the next one) and connect now. */
  reconnectNow(): void {
    if (!this.running) return;
    this.cancelTimer();
    this.dropSocket();
    this.connect();
  }

  /** subscribe sends req now if connected, and again after every reconnect. */
  subscribe(req: LiveRequest, handlers: LiveHandlers): () => void {
    const sub: Sub = { key: this.nextKey++, gen: 0, wireId: '', req, handlers };
    this.subs.set(sub.key, sub);
    if (this.isOpen()) this.send(sub);
    return () => {
      this.subs.delete(sub.key);
      this.byWire.delete(sub.wireId);
      if (this.isOpen() && sub.wireId) this.raw({ op: 'unsubscribe', id: sub.wireId });
    };
  }

  private isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === OPEN && this.status.state === 'live';
  }

  private connect(): void {
    this.setStatus({ state: this.status.attempt === 0 ? 'connecting' : 'reconnecting', retryAt: undefined });
    let ws: SocketLike;
    try {
      ws = this.opts.socket(this.opts.url());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.openedAt = this.opts.now();
      this.setStatus({ state: 'live', retryAt: undefined });
      this.byWire.clear();
      for (const sub of this.subs.values()) this.send(sub);
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.receive(ev.data);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.openedAt && this.opts.now() - this.openedAt >= this.opts.stableMs) {
        this.setStatus({ attempt: 0 });
      }
      this.openedAt = 0;
      if (this.running) this.scheduleRetry();
    };
    ws.onerror = () => {
      // A close event always follows; it decides what happens next.
    };
  }

  private scheduleRetry(): void {
    const o = this.opts;
    const delay = backoffDelay(this.status.attempt, o.baseDelayMs, o.maxDelayMs, o.random);
    this.setStatus({ state: 'reconnecting', attempt: this.status.attempt + 1, retryAt: o.now() + delay });
    this.timer = o.setTimer(() => {
      this.timer = null;
      if (this.running) this.connect();
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.opts.clearTimer(this.timer);
    this.timer = null;
  }

  private dropSocket(): void {
    const ws = this.ws;
    this.ws = null;
    this.openedAt = 0;
    if (ws) {
      ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
      try {
        ws.close(1000, 'client reconnect');
      } catch {
        // already closed
      }
    }
  }

  /** send (re)subscribes sub under a fresh wire id, so late frames of the old one are ignored. */
  private send(sub: Sub): void {
    if (sub.wireId) this.byWire.delete(sub.wireId);
    sub.gen += 1;
    sub.wireId = `s${sub.key}.${sub.gen}`;
    sub.seq = undefined;
    this.byWire.set(sub.wireId, sub);
    this.raw({ op: 'subscribe', id: sub.wireId, ...sub.req });
  }

  private raw(frame: object): void {
    try {
      this.ws?.send(JSON.stringify(frame));
    } catch {
      // the close handler reconnects
    }
  }

  private resubscribe(sub: Sub): void {
    this.raw({ op: 'unsubscribe', id: sub.wireId });
    this.setStatus({ gaps: this.status.gaps + 1 });
    this.send(sub);
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let f: Record<string, unknown>;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    const sub = typeof f.id === 'string' ? this.byWire.get(f.id) : undefined;
    if (!sub) return;
    if (typeof f.at === 'number') this.skew = f.at - this.opts.now();
    const at = typeof f.at === 'number' ? f.at : this.opts.now();
    if (f.op === 'error') {
      sub.handlers.error?.(String(f.code ?? 'error'), String(f.message ?? ''));
      return;
    }
    if (typeof f.seq !== 'number') return;
    if (f.op === 'snapshot') {
      sub.seq = f.seq;
      this.dispatch(sub, f, at, true);
      return;
    }
    // An update needs the snapshot before it; a top frame may itself be the first one.
    const first = sub.seq === undefined;
    if ((first && f.op !== 'top') || (!first && f.seq !== sub.seq! + 1)) {
      this.resubscribe(sub);
      return;
    }
    sub.seq = f.seq;
    this.dispatch(sub, f, at, false);
  }

  private dispatch(sub: Sub, f: Record<string, unknown>, at: number, full: boolean): void {
    if (Array.isArray(f.entries)) {
      sub.handlers.top?.(f.entries as TopEntry[], String(f.window ?? ''), at);
    } else if (full) {
      sub.handlers.snapshot?.(parseCounts(f.counts), at);
    } else {
      sub.handlers.update?.(parseCounts(f.counts), at);
    }
  }

  private setStatus(patch: Partial<LiveStatus>): void {
    this.status = { ...this.status, ...patch };
    this.statusListeners.forEach((l) => l(this.status));
  }
}

/** liveURL is the dashboard's own /v1/live, with the key as access_token (browsers cannot set headers on a WebSocket). */
export function liveURL(loc: { protocol: string; host: string }, key: string | null): string {
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  const q = key ? `?access_token=${encodeURIComponent(key)}` : '';
  return `${scheme}://${loc.host}/v1/live${q}`;
}
