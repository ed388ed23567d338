// @vitest-environment happy-dom
import { act } from 'react';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { FakeSocket } from '../test/fakeSocket';
import { render } from '../test/render';
import { LiveClient } from './live';
import { newerTop, useLiveCounts, useLiveTop, withSnapshot, withUpdate, withWindows, type LiveCounts } from './liveQueries';
import { keys } from './query';

const base: LiveCounts = {
  at: 100,
  windows: ['1m', '5m'],
  counts: { a: { '1m': 1, '5m': 2 }, b: { '1m': 0, '5m': 0 } },
  watching: { a: 1 },
};

describe('live counts in the cache', () => {
  test.each([
    ['a snapshot replaces every count and watcher', withSnapshot(base, [{ subject: 'b', counts: { '1m': 4, '5m': 4 }, watching: 3 }], 90), {
      at: 90, windows: ['1m', '5m'], counts: { b: { '1m': 4, '5m': 4 } }, watching: { b: 3 },
    }],
    ['a first snapshot has the default windows', withSnapshot(undefined, [{ subject: 'a', counts: { '1m': 1 } }], 5), {
      at: 5, windows: ['1m', '5m', '10m'], counts: { a: { '1m': 1 } }, watching: {},
    }],
    ['an update merges into the subjects it names', withUpdate(base, [{ subject: 'a', counts: { '1m': 2 } }], 101), {
      ...base, at: 101, counts: { a: { '1m': 2, '5m': 2 }, b: { '1m': 0, '5m': 0 } },
    }],
    ['an update of watching alone', withUpdate(base, [{ subject: 'b', counts: {}, watching: 2 }], 100), {
      ...base, watching: { a: 1, b: 2 },
    }],
    ['newer numbers over HTTP replace the subjects they list, in the server windows', withWindows(base, {
      at: 200, windows: ['1m', '5m', '1h'], counts: [{ type: 't', subject: 'a', '1m': 7, '5m': 8, '1h': 9, '2h': 10 }],
    }), { ...base, at: 200, windows: ['1m', '5m', '1h'], counts: { a: { '1m': 7, '5m': 8, '1h': 9 }, b: { '1m': 0, '5m': 0 } } }],
    ['older numbers over HTTP change only the window names', withWindows(base, {
      at: 100, windows: ['1m'], counts: [{ type: 't', subject: 'a', '1m': 0 }],
    }), { ...base, windows: ['1m'] }],
    ['an answer without windows keeps the known ones', withWindows(base, { at: 300, windows: [], counts: [] }), { ...base, at: 300 }],
  ])('%s', (_, got, want) => {
    expect(got).toEqual(want);
  });

  test('an update keeps the objects of subjects it does not name, so their cards stay put', () => {
    const next = withUpdate(base, [{ subject: 'a', counts: { '1m': 2 } }], 101);
    expect(next.counts.b).toBe(base.counts.b);
  });

  test.each([
    ['nothing yet', undefined, { at: 5, entries: [] }, 5],
    ['older frame', { at: 4, entries: [] }, { at: 5, entries: [] }, 5],
    ['frame as new', { at: 5, entries: [{ subject: 'a', count: 1 }] }, { at: 5, entries: [] }, 5],
  ])('newerTop: %s', (_, prev, next, at) => {
    expect(newerTop(prev, next).at).toBe(at);
    if (prev && prev.at >= next.at) expect(newerTop(prev, next)).toBe(prev);
  });
});

function liveHarness() {
  const sockets: FakeSocket[] = [];
  const live = new LiveClient({
    url: () => 'ws://pulse/v1/live',
    socket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
  });
  live.start();
  const ws = () => sockets.at(-1)!;
  return { live, ws };
}

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
});

const subjects = ['v1', 'v2'];

function Counts() {
  const c = useLiveCounts('video_liked', subjects, true);
  return (
    <p>
      {subjects.map((s) => `${s}:${c.data?.counts[s]?.['1m'] ?? '-'}/${c.data?.watching[s] ?? '-'}`).join(' ')}
      {c.liveError && ` error ${c.liveError}`}
    </p>
  );
}

test('useLiveCounts: /v1/windows first, then frames of a watching subscription; an older answer never wins', async () => {
  let at = 1000;
  const fetch = vi.fn<(url: string) => Promise<Response>>(async () => new Response(JSON.stringify({ at, windows: ['1m'], counts: [{ type: 'video_liked', subject: 'v1', '1m': 5 }] })));
  vi.stubGlobal('fetch', fetch);
  const { live, ws } = liveHarness();
  const { container, client, unmount } = await render(<Counts />, { live });
  await vi.waitFor(() => expect(container.textContent).toBe('v1:5/- v2:-/-'));
  expect(new URL(String(fetch.mock.calls[0]![0]), 'http://x').searchParams.getAll('subject')).toEqual(subjects);

  await act(async () => ws().open());
  const sub = ws().subscribes()[0]!;
  expect(sub).toMatchObject({ type: 'video_liked', subjects, watch: true });
  await act(async () => ws().frame({ op: 'snapshot', id: sub.id, seq: 1, at: 2000, counts: [{ subject: 'v1', '1m': 6, watching: 2 }, { subject: 'v2', '1m': 0, watching: 1 }] }));
  expect(container.textContent).toBe('v1:6/2 v2:0/1');
  await act(async () => ws().frame({ op: 'update', id: sub.id, seq: 2, at: 2100, counts: [{ subject: 'v2', watching: 2 }] }));
  expect(container.textContent).toBe('v1:6/2 v2:0/2');

  at = 1500; // an answer older than the frames
  await act(async () => client.refetchQueries({ queryKey: keys.liveCounts('video_liked', subjects) }));
  expect(container.textContent).toBe('v1:6/2 v2:0/2');

  await act(async () => ws().frame({ op: 'error', id: sub.id, code: 'too_many_subjects', message: 'at most 1000' }));
  expect(container.textContent).toContain('error too_many_subjects: at most 1000');
  await unmount();
  expect(ws().sent.at(-1)).toEqual({ op: 'unsubscribe', id: sub.id });
});

function Top({ window }: { window: string }) {
  const t = useLiveTop('video_liked', window);
  return <p>{t.data ? t.data.entries.map((e) => `${e.subject}=${e.count}`).join(',') : 'loading'}{t.liveError && ` error ${t.liveError}`}</p>;
}

test('useLiveTop: /v1/top, then top frames; an error frame belongs to its window', async () => {
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ at: 10, type: 'video_liked', window: '1m', entries: [{ subject: 'a', count: 2 }] }))));
  const { live, ws } = liveHarness();
  const { container, rerender } = await render(<Top window="1m" />, { live });
  await vi.waitFor(() => expect(container.textContent).toBe('a=2'));
  await act(async () => ws().open());
  const sub = ws().subscribes()[0]!;
  expect(sub).toMatchObject({ top: { window: '1m', limit: 10 } });
  await act(async () => ws().frame({ op: 'top', id: sub.id, seq: 1, at: 20, window: '1m', entries: [{ subject: 'b', count: 3 }] }));
  expect(container.textContent).toBe('b=3');
  await act(async () => ws().frame({ op: 'error', id: sub.id, code: 'unavailable', message: 'redis' }));
  expect(container.textContent).toBe('b=3 error redis');
  await rerender(<Top window="5m" />);
  await vi.waitFor(() => expect(container.textContent).toBe('a=2'));
});
