import { describe, expect, test } from 'vitest';
import { ApiError } from '../api/http';
import type { EventInput, ItemResult } from '../api/types';
import { GeneratorHub, pace, perTick } from './generator';

describe('pace', () => {
  test.each([
    // rate/min, elapsed ms, carry in → n, carry out
    [120, 1000, 0, 2, 0],
    [60, 1000, 0, 1, 0],
    [30, 1000, 0, 0, 0.5],
    [30, 1000, 0.5, 1, 0],
    [600, 1000, 0, 10, 0],
    [90, 1000, 0.5, 2, 0],
    [0, 1000, 0.3, 0, 0.3],
    [120, -5, 0, 0, 0],
  ])('%d/min over %d ms with carry %d → %d', (r, ms, c, n, carry) => {
    const p = pace(r, ms, c);
    expect(p.n).toBe(n);
    expect(p.carry).toBeCloseTo(carry, 9);
  });

  test('any rate comes out exact over a minute of irregular ticks', () => {
    for (const rate of [1, 7, 50, 119, 600, 1234]) {
      let carry = 0;
      let total = 0;
      const ticks = [1000, 1000, 3000, 250, 750, 4000, 1000, 49_000]; // 60 s, throttled in places
      for (const ms of ticks) {
        const p = pace(rate, ms, carry);
        total += p.n;
        carry = p.carry;
      }
      expect(total).toBe(rate);
    }
  });

  test('perTick is the most one tick carries, at least one', () => {
    expect(perTick(120, 1000)).toBe(2);
    expect(perTick(600, 1000)).toBe(10);
    expect(perTick(10, 1000)).toBe(1);
  });
});

function hub(respond: (batch: EventInput[]) => Promise<ItemResult[]>) {
  let now = 10_000_000;
  const batches: EventInput[][] = [];
  const counted: Array<[string, number[]]> = [];
  const h = new GeneratorHub({
    type: 'video_liked',
    idPrefix: 'g',
    now: () => now,
    setInterval: () => 1,
    clearInterval: () => {},
    maxBatch: 50,
    send: (b) => {
      batches.push(b);
      return respond(b);
    },
    onCounted: (s, t) => counted.push([s, t]),
  });
  return { h, batches, counted, advance: (ms: number) => (now += ms), now: () => now };
}

const acceptAll = async (b: EventInput[]): Promise<ItemResult[]> => b.map((e) => ({ id: e.id, status: 'accepted' }));

describe('GeneratorHub', () => {
  test('sends one batch per tick for all generators, at their rates', async () => {
    const g = hub(acceptAll);
    g.h.setRate('a', 120);
    g.h.setRate('b', 60);
    g.h.start('a');
    g.h.start('b');
    for (let i = 0; i < 10; i++) {
      g.advance(1000);
      await g.h.tick();
    }
    expect(g.batches).toHaveLength(10);
    expect(g.batches.every((b) => b.length === 3)).toBe(true);
    expect(g.h.stats('a')).toMatchObject({ sent: 20, counted: 20, queued: 0 });
    expect(g.h.stats('b')).toMatchObject({ sent: 10, counted: 10 });
    const ids = g.batches.flat().map((e) => e.id);
    expect(new Set(ids).size).toBe(30);
  });

  test('event times are spread over the tick and end now', async () => {
    const g = hub(acceptAll);
    g.h.setRate('a', 240);
    g.h.start('a');
    const start = g.now();
    g.advance(1000);
    await g.h.tick();
    expect(g.batches[0]!.map((e) => (e.time as number) - start)).toEqual([250, 500, 750, 1000]);
    expect(g.counted).toEqual([['a', [start + 250, start + 500, start + 750, start + 1000]]]);
  });

  test('a failed batch is re-sent with the same ids; duplicates count as counted', async () => {
    let fail = true;
    const g = hub(async (b) => {
      if (fail) throw new ApiError(0, 'network', 'down');
      return b.map((e, i) => ({ id: e.id, status: i === 0 ? 'duplicate' : 'accepted' }));
    });
    g.h.setRate('a', 120);
    g.h.start('a');
    g.advance(1000);
    await g.h.tick();
    expect(g.h.stats('a')).toMatchObject({ sent: 2, counted: 0, queued: 2, lastError: 'down' });
    fail = false;
    g.advance(1000);
    await g.h.tick();
    expect(g.batches[1]!.slice(0, 2).map((e) => e.id)).toEqual(g.batches[0]!.map((e) => e.id));
    expect(g.h.stats('a')).toMatchObject({ sent: 4, counted: 4, queued: 0, lastError: undefined });
  });

  test('rejections are counted apart and not expected', async () => {
    const g = hub(async (b) => b.map((e, i) => (i === 1 ? { status: 'rejected', error: { code: 'x', message: 'bad' } } : { id: e.id, status: 'accepted' })));
    g.h.setRate('a', 180);
    g.h.start('a');
    g.advance(1000);
    await g.h.tick();
    expect(g.h.stats('a')).toMatchObject({ counted: 2, rejected: 1, lastError: 'bad' });
    expect(g.counted[0]![1]).toHaveLength(2);
  });

  test('a 400 with per-item results settles them instead of retrying', async () => {
    const g = hub(async (b) => {
      throw new ApiError(400, 'all_rejected', 'nothing accepted', { results: b.map(() => ({ status: 'rejected', error: { code: 'c', message: 'm' } })) });
    });
    g.h.setRate('a', 60);
    g.h.start('a');
    g.advance(1000);
    await g.h.tick();
    expect(g.h.stats('a')).toMatchObject({ rejected: 1, queued: 0 });
  });

  test('a 401 stops the generators instead of retrying forever', async () => {
    const g = hub(async () => {
      throw new ApiError(401, 'unauthorized', 'key needed');
    });
    g.h.setRate('a', 60);
    g.h.start('a');
    g.advance(1000);
    await g.h.tick();
    expect(g.h.stats('a')).toMatchObject({ running: false, lastError: 'key needed' });
  });

  test('no overlapping requests: events wait while a batch is in flight', async () => {
    let release: (() => void) | null = null;
    const g = hub((b) => new Promise((r) => (release = () => r(b.map((e) => ({ id: e.id, status: 'accepted' }))))));
    g.h.setRate('a', 60);
    g.h.start('a');
    g.advance(1000);
    const first = g.h.tick();
    g.advance(1000);
    await g.h.tick(); // in flight: only queues
    expect(g.batches).toHaveLength(1);
    expect(g.h.stats('a').queued).toBe(1);
    release!();
    await first;
    g.advance(1000);
    void g.h.tick(); // sends synchronously, then waits for an answer that never comes
    expect(g.batches[1]).toHaveLength(2);
  });

  test('backpressure: a generator whose queue is full stalls instead of piling up', async () => {
    const g = hub(async () => {
      throw new ApiError(503, 'backlog', 'busy');
    });
    g.h.setRate('a', 6000); // 100/s, maxBatch 50
    g.h.start('a');
    for (let i = 0; i < 5; i++) {
      g.advance(1000);
      await g.h.tick();
    }
    expect(g.h.stats('a').queued).toBe(50);
    expect(g.h.stats('a').stalled).toBe(true);
  });

  test('stop drops unsent events but still resolves the sent ones', async () => {
    let release: (() => void) | null = null;
    const g = hub((b) => new Promise((r) => (release = () => r(b.map((e) => ({ id: e.id, status: 'accepted' }))))));
    g.h.setRate('a', 60);
    g.h.start('a');
    g.advance(1000);
    const first = g.h.tick();
    g.advance(3000);
    await g.h.tick(); // 3 more queued behind the one in flight
    g.h.stop('a');
    expect(g.h.stats('a').queued).toBe(0);
    release!();
    await first;
    expect(g.h.stats('a')).toMatchObject({ running: false, counted: 1, sent: 1 });
  });
});
