// The board's load generator: per subject, a rate in events per minute. One timer ticks for
// all of them and each tick sends one batch through POST /v1/events, so twelve generators cost
// one request per tick. Event ids are unique per page and kept across retries, so a batch
// whose answer was lost can be sent again without counting twice (the server dedupes ids).

import { ApiError } from '../api/http';
import type { EventInput, ItemResult } from '../api/types';

export interface Pace {
  /** Events to send now. */
  n: number;
  /** The fraction of an event owed to the next tick. */
  carry: number;
}

/** pace spreads ratePerMin over time exactly: the events owed for elapsedMs, plus what was carried. */
export function pace(ratePerMin: number, elapsedMs: number, carry: number): Pace {
  const owed = Math.max(0, (ratePerMin * Math.max(0, elapsedMs)) / 60_000 + carry);
  const n = Math.floor(owed + 1e-9);
  return { n, carry: Math.max(0, owed - n) };
}

/** perTick is how many events one tick carries at ratePerMin: the tolerance of expected vs observed. */
export function perTick(ratePerMin: number, tickMs: number): number {
  return Math.max(1, Math.ceil((ratePerMin * tickMs) / 60_000));
}

export interface GenStats {
  rate: number;
  running: boolean;
  /** Events sent at least once. */
  sent: number;
  /** Accepted (or answered duplicate after a retry, i.e. accepted earlier). */
  counted: number;
  rejected: number;
  /** Waiting to be sent or re-sent. */
  queued: number;
  /** The generator cannot keep its rate: the API is not taking events. */
  stalled: boolean;
  lastError?: string;
}

export interface GeneratorOptions {
  type: string;
  send(batch: EventInput[]): Promise<ItemResult[]>;
  /** Events confirmed counted (accepted or duplicate), by subject, with their event times. */
  onCounted(subject: string, times: number[]): void;
  onChange?(): void;
  tickMs?: number;
  /** Largest batch (the server's PULSE_MAX_BATCH); also the most a subject may have queued. */
  maxBatch?: number;
  idPrefix?: string;
  now?: () => number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (t: unknown) => void;
}

interface Pending {
  subject: string;
  event: EventInput & { id: string; time: number };
  tried: boolean;
}

interface Gen {
  stats: GenStats;
  last: number;
  carry: number;
}

export class GeneratorHub {
  readonly tickMs: number;
  private readonly o: Required<Omit<GeneratorOptions, 'onChange'>> & Pick<GeneratorOptions, 'onChange'>;
  private gens = new Map<string, Gen>();
  private outbox: Pending[] = [];
  private inflight = false;
  private timer: unknown = null;
  private seq = 0;

  constructor(opts: GeneratorOptions) {
    this.o = {
      tickMs: 1000,
      maxBatch: 1000,
      idPrefix: `g${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
      now: Date.now,
      setInterval: (fn, ms) => setInterval(fn, ms),
      clearInterval: (t) => clearInterval(t as ReturnType<typeof setInterval>),
      ...opts,
    };
    this.tickMs = this.o.tickMs;
  }

  stats(subject: string): GenStats {
    return this.gen(subject).stats;
  }

  setRate(subject: string, rate: number): void {
    const g = this.gen(subject);
    g.stats = { ...g.stats, rate: Math.max(0, rate) };
    this.changed();
  }

  start(subject: string): void {
    const g = this.gen(subject);
    if (g.stats.running) return;
    g.last = this.o.now();
    g.carry = 0;
    g.stats = { ...g.stats, running: true, stalled: false, lastError: undefined };
    this.ensureTimer();
    this.changed();
  }

  /** stop ends generation; events never sent are dropped, those sent once are still resolved. */
  stop(subject: string): void {
    const g = this.gen(subject);
    if (!g.stats.running) return;
    this.outbox = this.outbox.filter((p) => p.subject !== subject || p.tried);
    g.stats = { ...g.stats, running: false, stalled: false };
    this.recount();
    this.changed();
  }

  stopAll(): void {
    for (const s of this.gens.keys()) this.stop(s);
  }

  running(): number {
    let n = 0;
    for (const g of this.gens.values()) if (g.stats.running) n++;
    return n;
  }

  dispose(): void {
    if (this.timer !== null) this.o.clearInterval(this.timer);
    this.timer = null;
    this.gens.clear();
    this.outbox = [];
  }

  /** tick generates what every running generator owes and sends one batch (unless one is in flight). */
  async tick(): Promise<void> {
    const now = this.o.now();
    for (const [subject, g] of this.gens) {
      if (!g.stats.running) continue;
      const elapsed = now - g.last;
      const queued = this.queuedOf(subject);
      if (queued >= this.o.maxBatch) {
        // Backpressure: the API is not keeping up or is down. Owing events forever would
        // only burst later; the generator shows it is stalled instead.
        g.last = now;
        g.carry = 0;
        g.stats = { ...g.stats, stalled: true };
        continue;
      }
      const p = pace(g.stats.rate, elapsed, g.carry);
      const n = Math.min(p.n, this.o.maxBatch - queued);
      for (let i = 0; i < n; i++) {
        // Spread event times over the interval, the last one now.
        const time = Math.round(g.last + ((i + 1) * elapsed) / n);
        this.outbox.push({
          subject,
          tried: false,
          event: { id: `${this.o.idPrefix}.${++this.seq}`, type: this.o.type, subject, time },
        });
      }
      g.last = now;
      g.carry = p.carry;
      if (g.stats.stalled) g.stats = { ...g.stats, stalled: false };
    }
    if (this.running() === 0 && this.outbox.length === 0 && this.timer !== null) {
      this.o.clearInterval(this.timer);
      this.timer = null;
    }
    this.recount();
    if (this.inflight || this.outbox.length === 0) {
      this.changed();
      return;
    }
    const batch = this.outbox.splice(0, this.o.maxBatch);
    for (const p of batch) {
      if (!p.tried) this.bump(p.subject, { sent: 1 });
      p.tried = true;
    }
    this.inflight = true;
    this.changed();
    try {
      const results = await this.o.send(batch.map((p) => p.event));
      this.settle(batch, results);
    } catch (err) {
      const results = itemResults(err);
      if (results) this.settle(batch, results);
      else this.retryLater(batch, err);
    } finally {
      this.inflight = false;
      this.recount();
      this.changed();
    }
  }

  private settle(batch: Pending[], results: ItemResult[]): void {
    const counted = new Map<string, number[]>();
    const rejected: Array<[string, string]> = [];
    batch.forEach((p, i) => {
      const r = results[i];
      if (!r) this.outbox.push(p); // no answer for it: ask again
      else if (r.status === 'rejected') rejected.push([p.subject, r.error?.message ?? 'rejected']);
      else {
        const times = counted.get(p.subject);
        if (times) times.push(p.event.time);
        else counted.set(p.subject, [p.event.time]);
      }
    });
    for (const [subject, times] of counted) {
      this.bump(subject, { counted: times.length });
      this.o.onCounted(subject, times);
    }
    for (const [subject, reason] of rejected) this.bump(subject, { rejected: 1 }, reason);
  }

  private retryLater(batch: Pending[], err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    const fatal = err instanceof ApiError && (err.status === 401 || err.status === 403);
    if (fatal) {
      // A missing key will not fix itself: stop instead of resending forever.
      for (const p of batch) this.bump(p.subject, {}, msg);
      for (const s of new Set(batch.map((p) => p.subject))) this.stop(s);
      return;
    }
    this.outbox.unshift(...batch);
    for (const s of new Set(batch.map((p) => p.subject))) this.bump(s, {}, msg);
  }

  private bump(subject: string, d: Partial<Pick<GenStats, 'sent' | 'counted' | 'rejected'>>, lastError?: string): void {
    const g = this.gen(subject);
    g.stats = {
      ...g.stats,
      sent: g.stats.sent + (d.sent ?? 0),
      counted: g.stats.counted + (d.counted ?? 0),
      rejected: g.stats.rejected + (d.rejected ?? 0),
      lastError: lastError ?? (d.counted ? undefined : g.stats.lastError),
    };
  }

  private queuedOf(subject: string): number {
    let n = 0;
    for (const p of this.outbox) if (p.subject === subject) n++;
    return n;
  }

  private recount(): void {
    const q = new Map<string, number>();
    for (const p of this.outbox) q.set(p.subject, (q.get(p.subject) ?? 0) + 1);
    for (const [s, g] of this.gens) {
      const queued = q.get(s) ?? 0;
      if (g.stats.queued !== queued) g.stats = { ...g.stats, queued };
    }
  }

  private gen(subject: string): Gen {
    let g = this.gens.get(subject);
    if (!g) {
      g = { last: 0, carry: 0, stats: { rate: 60, running: false, sent: 0, counted: 0, rejected: 0, queued: 0, stalled: false } };
      this.gens.set(subject, g);
    }
    return g;
  }

  private ensureTimer(): void {
    if (this.timer === null) this.timer = this.o.setInterval(() => void this.tick(), this.o.tickMs);
  }

  private changed(): void {
    this.o.onChange?.();
  }
}

/** itemResults finds per-item answers in an error: a 400 where every item was rejected. */
function itemResults(err: unknown): ItemResult[] | null {
  if (!(err instanceof ApiError) || err.status !== 400) return null;
  const d = err.details as { results?: ItemResult[] } | undefined;
  return Array.isArray(d?.results) ? d.results : null;
}
