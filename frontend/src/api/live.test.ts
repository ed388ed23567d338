import { describe, expect, test } from 'vitest';
import { FakeSocket } from '../test/fakeSocket';
import { backoffDelay, LiveClient, liveURL, parseCounts } from './live';
import type { SubjectCounts, TopEntry } from './types';

function harness(random = 0.5) {
  const sockets: FakeSocket[] = [];
  const timers: Array<{ fn: () => void; ms: number; at: number }> = [];
  let now = 1_000_000;
  const client = new LiveClient({
    url: () => 'ws://pulse/v1/live',
    socket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => random,
    now: () => now,
    setTimer: (fn, ms) => {
      const t = { fn, ms, at: now + ms };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => timers.splice(timers.indexOf(t as (typeof timers)[number]), 1),
  });
  const fire = () => {
    const t = timers.shift();
    if (!t) throw new Error('no timer pending');
    now = Math.max(now, t.at);
    t.fn();
    return t.ms;
  };
  return { client, sockets, timers, fire, last: () => sockets[sockets.length - 1]!, advance: (ms: number) => (now += ms) };
}

describe('LiveClient', () => {
  test('subscribes on open and delivers snapshot then updates', () => {
    const h = harness();
    const got: Array<[string, SubjectCounts[]]> = [];
    h.client.subscribe({ type: 'video_liked', subjects: ['v1', 'v2'] }, {
      snapshot: (c) => got.push(['snapshot', c]),
      update: (c) => got.push(['update', c]),
    });
    h.client.start();
    expect(h.client.getStatus().state).toBe('connecting');
    h.last().open();
    expect(h.client.getStatus().state).toBe('live');
    const sub = h.last().subscribes()[0]!;
    expect(sub).toMatchObject({ op: 'subscribe', type: 'video_liked', subjects: ['v1', 'v2'] });
    h.last().frame({ op: 'snapshot', id: sub.id, seq: 1, at: 5, counts: [{ subject: 'v1', '1m': 3, '5m': 9 }, { subject: 'v2', '1m': 0, '5m': 0 }] });
    h.last().frame({ op: 'update', id: sub.id, seq: 2, at: 6, counts: [{ subject: 'v1', '1m': 4, '5m': 10 }] });
    expect(got).toEqual([
      ['snapshot', [{ subject: 'v1', counts: { '1m': 3, '5m': 9 } }, { subject: 'v2', counts: { '1m': 0, '5m': 0 } }]],
      ['update', [{ subject: 'v1', counts: { '1m': 4, '5m': 10 } }]],
    ]);
  });

  test('a seq gap re-subscribes for a fresh snapshot and ignores the old subscription', () => {
    const h = harness();
    const updates: number[] = [];
    let snapshots = 0;
    h.client.subscribe({ type: 't', subjects: ['a'] }, {
      snapshot: () => snapshots++,
      update: (c) => updates.push(c[0]!.counts['1m']!),
    });
    h.client.start();
    const ws = h.last();
    ws.open();
    const first = ws.subscribes()[0]!.id;
    ws.frame({ op: 'snapshot', id: first, seq: 1, counts: [{ subject: 'a', '1m': 1 }] });
    ws.frame({ op: 'update', id: first, seq: 2, counts: [{ subject: 'a', '1m': 2 }] });
    ws.frame({ op: 'update', id: first, seq: 4, counts: [{ subject: 'a', '1m': 4 }] }); // seq 3 lost
    expect(updates).toEqual([2]);
    expect(ws.sent.slice(-2)).toEqual([
      { op: 'unsubscribe', id: first },
      expect.objectContaining({ op: 'subscribe', type: 't', subjects: ['a'] }),
    ]);
    const second = ws.subscribes()[1]!.id;
    expect(second).not.toBe(first);
    ws.frame({ op: 'update', id: first, seq: 5, counts: [{ subject: 'a', '1m': 5 }] }); // late, old id
    ws.frame({ op: 'snapshot', id: second, seq: 1, counts: [{ subject: 'a', '1m': 5 }] });
    ws.frame({ op: 'update', id: second, seq: 2, counts: [{ subject: 'a', '1m': 6 }] });
    expect(updates).toEqual([2, 6]);
    expect(snapshots).toBe(2);
    expect(h.client.getStatus().gaps).toBe(1);
  });

  test('an update before any snapshot re-subscribes', () => {
    const h = harness();
    h.client.subscribe({ type: 't', subjects: ['a'] }, {});
    h.client.start();
    h.last().open();
    const id = h.last().subscribes()[0]!.id;
    h.last().frame({ op: 'update', id, seq: 7, counts: [] });
    expect(h.last().subscribes()).toHaveLength(2);
  });

  test('top frames: the first one is the baseline, gaps re-subscribe', () => {
    const h = harness();
    const tops: TopEntry[][] = [];
    h.client.subscribe({ type: 't', top: { window: '1m', limit: 10 } }, { top: (e) => tops.push(e) });
    h.client.start();
    h.last().open();
    const id = h.last().subscribes()[0]!.id;
    expect(h.last().subscribes()[0]).toMatchObject({ top: { window: '1m', limit: 10 } });
    h.last().frame({ op: 'top', id, seq: 1, window: '1m', entries: [{ subject: 'a', count: 2 }] });
    h.last().frame({ op: 'top', id, seq: 2, window: '1m', entries: [{ subject: 'a', count: 3 }] });
    h.last().frame({ op: 'top', id, seq: 9, window: '1m', entries: [] });
    expect(tops).toEqual([[{ subject: 'a', count: 2 }], [{ subject: 'a', count: 3 }]]);
    expect(h.last().subscribes()).toHaveLength(2);
  });

  test('reconnects with growing jittered backoff and re-subscribes everything', () => {
    const h = harness(0); // jitter at its floor: half the ceiling
    h.client.subscribe({ type: 't', subjects: ['a'] }, {});
    h.client.subscribe({ type: 't', top: { window: '5m', limit: 3 } }, {});
    h.client.start();
    h.last().drop(); // refused
    expect(h.client.getStatus()).toMatchObject({ state: 'reconnecting', attempt: 1 });
    const delays = [h.fire()];
    h.last().drop();
    delays.push(h.fire());
    h.last().drop();
    delays.push(h.fire());
    expect(delays).toEqual([250, 500, 1000]);
    h.last().open();
    expect(h.client.getStatus().state).toBe('live');
    expect(h.last().subscribes()).toHaveLength(2);
    expect(h.sockets).toHaveLength(4);
  });

  test('a connection that stayed up resets the backoff; a flapping one does not', () => {
    const h = harness(1);
    h.client.start();
    h.last().drop();
    h.fire(); // attempt 1 → 500 ms ceiling
    h.last().open();
    h.advance(100);
    h.last().drop(); // flapped: not stable
    expect(h.client.getStatus().attempt).toBe(2);
    expect(h.timers[0]!.ms).toBe(1000);
    h.fire();
    h.last().open();
    h.advance(60_000);
    h.last().drop(); // was up for a minute
    expect(h.client.getStatus().attempt).toBe(1);
    expect(h.timers[0]!.ms).toBe(500);
  });

  test('error frames reach the subscription and keep the connection', () => {
    const h = harness();
    const errors: string[] = [];
    h.client.subscribe({ type: 'BAD', subjects: ['a'] }, { error: (code, msg) => errors.push(`${code}: ${msg}`) });
    h.client.start();
    h.last().open();
    h.last().frame({ op: 'error', id: h.last().subscribes()[0]!.id, code: 'invalid_type', message: 'nope' });
    expect(errors).toEqual(['invalid_type: nope']);
    expect(h.client.getStatus().state).toBe('live');
  });

  test('unsubscribe tells the server; stop closes and does not reconnect', () => {
    const h = harness();
    const off = h.client.subscribe({ type: 't', subjects: ['a'] }, {});
    h.client.start();
    h.last().open();
    const id = h.last().subscribes()[0]!.id;
    off();
    expect(h.last().sent.at(-1)).toEqual({ op: 'unsubscribe', id });
    const ws = h.last();
    h.client.stop();
    expect(ws.closed).toBe(true);
    expect(h.timers).toHaveLength(0);
    expect(h.client.getStatus().state).toBe('idle');
  });

  test('reconnectNow skips the wait and uses the current url', () => {
    const h = harness();
    h.client.start();
    h.last().drop();
    expect(h.timers).toHaveLength(1);
    h.client.reconnectNow();
    expect(h.timers).toHaveLength(0);
    expect(h.sockets).toHaveLength(2);
  });
});

test('backoffDelay grows to its cap and jitters between half and all of it', () => {
  expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 500, 4000, () => 1))).toEqual([500, 1000, 2000, 4000, 4000]);
  expect(backoffDelay(3, 500, 4000, () => 0)).toBe(2000);
});

test.each([
  ['numeric windows, junk dropped', [{ subject: 'a', type: 't', '1m': 1, x: 'y' }, null, { nope: 1 }], [{ subject: 'a', counts: { '1m': 1 } }]],
  ['not a list', 'x', []],
  ['watching apart from the windows', [{ subject: 'v', '1m': 3, '5m': 9, watching: 2 }], [{ subject: 'v', counts: { '1m': 3, '5m': 9 }, watching: 2 }]],
  ['watching alone (only it changed)', [{ subject: 'v', watching: 0 }], [{ subject: 'v', counts: {}, watching: 0 }]],
  ['watching that is no number', [{ subject: 'v', '1m': 1, watching: 'many' }], [{ subject: 'v', counts: { '1m': 1 } }]],
])('parseCounts: %s', (_, raw, want) => {
  expect(parseCounts(raw)).toEqual(want);
});

test('a watching subscription says so, and its frames carry how many watch', () => {
  const h = harness();
  const got: SubjectCounts[][] = [];
  h.client.subscribe({ type: 'video_liked', subjects: ['video-1'], watch: true }, { snapshot: (c) => got.push(c), update: (c) => got.push(c) });
  h.client.start();
  h.last().open();
  const sub = h.last().subscribes()[0]!;
  expect(sub).toEqual({ op: 'subscribe', id: sub.id, type: 'video_liked', subjects: ['video-1'], watch: true });
  h.last().frame({ op: 'snapshot', id: sub.id, seq: 1, at: 5, counts: [{ subject: 'video-1', '1m': 3, '5m': 9, '10m': 12, watching: 2 }] });
  h.last().frame({ op: 'update', id: sub.id, seq: 2, at: 6, counts: [{ subject: 'video-1', '1m': 3, '5m': 9, '10m': 12, watching: 1 }] });
  expect(got).toEqual([
    [{ subject: 'video-1', counts: { '1m': 3, '5m': 9, '10m': 12 }, watching: 2 }],
    [{ subject: 'video-1', counts: { '1m': 3, '5m': 9, '10m': 12 }, watching: 1 }],
  ]);
});

test("serverNow follows the frames' clock", () => {
  const h = harness();
  expect(h.client.serverNow()).toBe(1_000_000); // no frame yet: ours
  h.client.subscribe({ type: 't', subjects: ['a'] }, {});
  h.client.start();
  h.last().open();
  h.last().frame({ op: 'snapshot', id: h.last().subscribes()[0]!.id, seq: 1, at: 1_003_000, counts: [] });
  expect(h.client.serverNow()).toBe(1_003_000);
  h.advance(500);
  expect(h.client.serverNow()).toBe(1_003_500);
});

test('liveURL picks the scheme and passes the key', () => {
  expect(liveURL({ protocol: 'http:', host: 'h:8080' }, null)).toBe('ws://h:8080/v1/live');
  expect(liveURL({ protocol: 'https:', host: 'h' }, 'k y')).toBe('wss://h/v1/live?access_token=k%20y');
});
