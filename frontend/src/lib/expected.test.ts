import { describe, expect, test } from 'vitest';
import { drift, DriftHold, ExpectedCounts, inWindow, parseDuration, windowSpecs } from './expected';

test.each([
  ['1m', 60], ['5m', 300], ['10m', 600], ['30s', 30], ['1h', 3600], ['1m30s', 90], ['1500ms', 2],
  ['', null], ['m', null], ['5x', null], ['1m junk', null],
])('parseDuration(%j) = %j', (s, want) => {
  expect(parseDuration(s)).toBe(want);
});

test('inWindow is (now − W, now] in whole seconds', () => {
  expect(inWindow(100, 100, 60)).toBe(true);
  expect(inWindow(41, 100, 60)).toBe(true);
  expect(inWindow(40, 100, 60)).toBe(false); // exactly W ago: gone
  expect(inWindow(101, 100, 60)).toBe(false); // future: not yet
});

describe('ExpectedCounts', () => {
  const ws = windowSpecs(['1m', '5m', '10m']);
  const t0 = 1_700_000_000_000; // a whole second

  test('counts events per window and lets them leave on time', () => {
    const e = new ExpectedCounts();
    e.track('v', t0);
    e.add('v', t0 - 30_000); // 30 s ago
    e.add('v', t0 - 120_000); // 2 min ago
    e.add('v', t0 - 420_000); // 7 min ago
    e.add('v', t0 - 720_000); // 12 min ago
    const at = (ms: number) => Object.fromEntries(Object.entries(e.range('v', ms, ws)!).map(([k, r]) => [k, r.lo]));
    expect(at(t0)).toEqual({ '1m': 1, '5m': 2, '10m': 3 });
    expect(at(t0 + 29_999)).toEqual({ '1m': 1, '5m': 2, '10m': 3 });
    expect(at(t0 + 30_000)).toEqual({ '1m': 0, '5m': 2, '10m': 3 });
    expect(at(t0 + 180_000)).toEqual({ '1m': 0, '5m': 1, '10m': 2 }); // 7 min + 3 min: gone from 10m
    expect(at(t0 + 180_000 + 1_000_000)).toEqual({ '1m': 0, '5m': 0, '10m': 0 });
  });

  test('counts present before tracking widen the range until their window has passed', () => {
    const e = new ExpectedCounts();
    e.track('v', t0, { '1m': 4, '5m': 10, '10m': 10 });
    e.add('v', t0 + 1000, 3);
    expect(e.range('v', t0 + 1000, ws)).toEqual({ '1m': { lo: 3, hi: 7 }, '5m': { lo: 3, hi: 13 }, '10m': { lo: 3, hi: 13 } });
    expect(e.range('v', t0 + 60_000, ws)!['1m']).toEqual({ lo: 3, hi: 3 });
    expect(e.range('v', t0 + 61_000, ws)!['1m']).toEqual({ lo: 0, hi: 0 });
  });

  test('untracked subjects have no expectation; prune keeps the answers', () => {
    const e = new ExpectedCounts();
    expect(e.range('x', t0, ws)).toBeNull();
    e.add('x', t0); // ignored
    e.track('v', t0);
    e.add('v', t0 - 700_000);
    e.add('v', t0);
    e.prune(t0, 600);
    expect(e.range('v', t0, ws)!['10m']).toEqual({ lo: 1, hi: 1 });
  });
});

test('drift is zero within tolerance and signed outside it', () => {
  expect(drift(10, { lo: 10, hi: 10 }, 2)).toBe(0);
  expect(drift(8, { lo: 10, hi: 10 }, 2)).toBe(0);
  expect(drift(7, { lo: 10, hi: 10 }, 2)).toBe(-3);
  expect(drift(13, { lo: 10, hi: 11 }, 2)).toBe(0);
  expect(drift(14, { lo: 10, hi: 11 }, 2)).toBe(3);
});

test.each([
  ['in sync', [[0, 0], [0, 1000], [0, 2000]], [0, 0, 0]],
  ['shown once it lasted 2 s', [[3, 0], [3, 1000], [3, 2000], [4, 2500]], [0, 0, 3, 4]],
  ['a drift that settles starts over', [[3, 0], [0, 1000], [3, 1500], [3, 3000], [3, 3500]], [0, 0, 0, 0, 3]],
])('DriftHold: %s', (_, steps, want) => {
  const hold = new DriftHold(2000);
  expect(steps.map(([off, t]) => hold.held('video-1\n1m', off!, t!))).toEqual(want);
});

test('DriftHold keeps each window apart', () => {
  const hold = new DriftHold(2000);
  hold.held('a\n1m', 5, 0);
  expect(hold.held('a\n5m', 5, 2000)).toBe(0);
  expect(hold.held('a\n1m', 5, 2000)).toBe(5);
});
