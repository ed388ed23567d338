// @vitest-environment happy-dom
import { act } from 'react';
import { afterEach, expect, test, vi } from 'vitest';
import { LiveClient } from '../../api/live';
import { FakeSocket } from '../../test/fakeSocket';
import { render } from '../../test/render';
import { Board } from './index';

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
  localStorage.clear();
});

/** stubApi answers the board's HTTP calls: counts of video-1, an empty leaderboard and history. */
function stubApi() {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      const u = new URL(url, 'http://pulse');
      if (u.pathname === '/v1/windows') return new Response(JSON.stringify({ at: 10, windows: ['1m', '5m'], counts: [{ type: 'video_liked', subject: 'video-1', '1m': 4, '5m': 6 }] }));
      if (u.pathname === '/v1/top') return new Response(JSON.stringify({ at: 10, type: 'video_liked', window: '1m', entries: [] }));
      return new Response(JSON.stringify({ type: 'video_liked', from: 0, to: 0, count: 0, series: [], source: 'history' }));
    }),
  );
}

test('the board shows counts over HTTP, then live frames; each card says how many watch it', async () => {
  localStorage.setItem('pulse.videos', JSON.stringify([{ id: 'video-1', title: 'One' }, { id: 'video-2', title: 'Two' }]));
  stubApi();
  const sockets: FakeSocket[] = [];
  const live = new LiveClient({ url: () => 'ws://pulse/v1/live', socket: (u) => sockets[sockets.push(new FakeSocket(u)) - 1]! });
  live.start();
  const { container, unmount } = await render(<Board />, { live });
  const card = (id: string) => container.querySelector(`article[data-subject="${id}"]`)!;
  const count = (id: string, w: string) => card(id).querySelector(`[data-window="${w}"] [data-count]`)?.getAttribute('data-count');
  const watching = (id: string) => card(id).querySelector('[data-testid="watching"]')?.textContent;

  await vi.waitFor(() => expect(count('video-1', '1m')).toBe('4'));
  expect([...card('video-1').querySelectorAll('[data-window]')].map((w) => w.getAttribute('data-window'))).toEqual(['1m', '5m']); // the server's windows
  expect(watching('video-1')).toBe('—');

  const ws = sockets[0]!;
  await act(async () => ws.open());
  const sub = ws.subscribes().find((f) => 'subjects' in f)!;
  expect(sub).toMatchObject({ type: 'video_liked', subjects: ['video-1', 'video-2'], watch: true });
  await act(async () =>
    ws.frame({ op: 'snapshot', id: sub.id, seq: 1, at: 20, counts: [{ subject: 'video-1', '1m': 5, '5m': 7, watching: 2 }, { subject: 'video-2', '1m': 0, '5m': 0, watching: 1 }] }),
  );
  expect([count('video-1', '1m'), watching('video-1'), watching('video-2')]).toEqual(['5', '2 watching', '1 watching']);
  await act(async () => ws.frame({ op: 'update', id: sub.id, seq: 2, at: 21, counts: [{ subject: 'video-1', '1m': 5, '5m': 7, watching: 3 }] }));
  expect(watching('video-1')).toBe('3 watching');
  await unmount();
  live.stop();
});
