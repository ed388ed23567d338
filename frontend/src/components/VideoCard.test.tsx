// @vitest-environment happy-dom
import { afterEach, describe, expect, test, vi } from 'vitest';
import { byText, click, render, type } from '../test/render';
import { VideoCard, type VideoCardProps } from './VideoCard';
import { Trending } from './Trending';
import { lastHour } from './VideoHistory';

const base: VideoCardProps = {
  video: { id: 'video-1', title: 'Sunrise over Lisbon' },
  windows: ['1m', '5m', '10m'],
  counts: { '1m': 3, '5m': 9, '10m': 12 },
  expected: null,
  drift: null,
  history: [0, 1, 4, 2],
  gen: { rate: 60, running: false, sent: 0, counted: 0, rejected: 0, queued: 0, stalled: false },
  stale: false,
  onLike: async () => {},
  onRate: () => {},
  onToggle: () => {},
};

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('VideoCard', () => {
  test('shows the counts per window and no expectation before anything was sent', async () => {
    const { container } = await render(<VideoCard {...base} />);
    const shown = [...container.querySelectorAll('[data-window]')].map((w) => [w.getAttribute('data-window'), w.querySelector('[data-count]')?.textContent]);
    expect(shown).toEqual([['1m', '3'], ['5m', '9'], ['10m', '12']]);
    expect(container.querySelector('[data-expected]')).toBeNull();
    expect(container.querySelector('.sync')).toBeNull();
    expect(container.querySelector('h3')?.textContent).toBe('Sunrise over Lisbon');
  });

  test('expected beside observed; a held drift is flagged on its window', async () => {
    const expected = { '1m': { lo: 3, hi: 3 }, '5m': { lo: 9, hi: 9 }, '10m': { lo: 5, hi: 5 } };
    const { container, rerender } = await render(<VideoCard {...base} expected={expected} drift={{ '1m': 0, '5m': 0, '10m': 0 }} />);
    expect(container.querySelector('[data-window="1m"] [data-expected]')?.textContent).toBe('exp 3');
    expect(container.querySelector('.sync')?.textContent).toBe('Observed matches expected');
    expect(container.querySelector('article')?.getAttribute('data-drift')).toBe('0');

    await rerender(<VideoCard {...base} expected={expected} drift={{ '1m': 0, '5m': 0, '10m': 7 }} />);
    expect(container.querySelector('article')?.classList.contains('drifting')).toBe(true);
    expect(container.querySelector('[data-window="10m"]')?.classList.contains('win-drift')).toBe(true);
    expect(container.querySelector('.sync')?.textContent).toBe('Drift on 10m (+7)');
  });

  test('an uncertain expectation shows its range', async () => {
    const { container } = await render(<VideoCard {...base} expected={{ '1m': { lo: 2, hi: 5 } }} drift={{}} />);
    expect(container.querySelector('[data-window="1m"] [data-expected]')?.textContent).toBe('exp 2–5');
  });

  test('Like, rate and start reach the board; a failed like is shown', async () => {
    const onLike = vi.fn().mockRejectedValueOnce(new Error('Redis is unreachable'));
    const onRate = vi.fn();
    const onToggle = vi.fn();
    const { container } = await render(<VideoCard {...base} onLike={onLike} onRate={onRate} onToggle={onToggle} />);
    await click(container.querySelector('button[aria-label="Like Sunrise over Lisbon"]'));
    expect(onLike).toHaveBeenCalledWith('video-1');
    expect(container.querySelector('[role="alert"]')?.textContent).toBe('Redis is unreachable');
    await type(container.querySelector('input.rate-input'), '99999');
    expect(onRate).toHaveBeenLastCalledWith('video-1', 6000);
    await click(byText(container, 'button', 'Start'));
    expect(onToggle).toHaveBeenCalledWith('video-1');
  });

  test.each([
    ['unknown', undefined, '—'],
    ['nobody (a server that has not counted this board yet)', 0, '0 watching'],
    ['this board', 1, '1 watching'],
    ['many', 1234, '1,234 watching'],
  ])('watching: %s', async (_, watching, text) => {
    const { container } = await render(<VideoCard {...base} watching={watching} />);
    expect(container.querySelector('[data-testid="watching"]')?.textContent).toBe(text);
  });

  test('a running generator shows Stop and its numbers', async () => {
    const gen = { ...base.gen, running: true, sent: 40, counted: 38, queued: 2, rejected: 0 };
    const { container } = await render(<VideoCard {...base} gen={gen} />);
    const btn = byText(container, 'button', 'Stop');
    expect(btn?.getAttribute('aria-pressed')).toBe('true');
    expect(container.querySelector('.gen-stats')?.textContent).toBe('sent 40 · counted 38 · queued 2');
  });
});

describe('VideoCard history', () => {
  const M = 60_000;
  // 12:34:56.789 on some day: the hour asked ends with the minute still filling.
  const NOW = Date.UTC(2026, 0, 15, 12, 34, 56, 789);
  const END = Date.UTC(2026, 0, 15, 12, 35);

  /** stubCounts answers GET /v1/counts with a series for the range asked, and records the calls. */
  function stubCounts() {
    const fetch = vi.fn(async (url: string) => {
      const u = new URL(url, 'http://pulse');
      const from = Number(u.searchParams.get('from'));
      const to = Number(u.searchParams.get('to'));
      const series = Array.from({ length: (to - from) / M }, (_, i) => ({ t: from + i * M, count: i === 59 ? 7 : i % 3 }));
      return new Response(JSON.stringify({ type: 'video_liked', subject: u.searchParams.get('subject'), from, to, count: 0, series, source: 'history' }));
    });
    vi.stubGlobal('fetch', fetch);
    return fetch;
  }

  const toggle = (root: ParentNode) => byText(root, 'button', 'History')!;

  test('History opens the last hour of likes per minute from /v1/counts, and closes it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    const fetch = stubCounts();
    const { container } = await render(<VideoCard {...base} />);
    const btn = toggle(container);
    expect(btn.getAttribute('aria-expanded')).toBe('false');
    const panel = document.getElementById(btn.getAttribute('aria-controls')!)!;
    expect(panel.hidden).toBe(true);

    await click(btn);
    expect(btn.getAttribute('aria-expanded')).toBe('true');
    expect(panel.hidden).toBe(false);
    const chart = panel.querySelector('[role="img"]');
    expect(chart?.getAttribute('aria-label')).toBe('History of video-1');
    await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(1));
    const u = new URL(fetch.mock.calls[0]![0], 'http://pulse');
    expect(u.pathname).toBe('/v1/counts');
    expect(Object.fromEntries(u.searchParams)).toEqual({ type: 'video_liked', subject: 'video-1', from: String(END - 60 * M), to: String(END), step: '1m' });
    // Drawn (a labelled chart box: no canvas in happy-dom), with what the hour adds up to.
    await vi.waitFor(() => expect(panel.querySelector('.video-history-head')?.textContent).toBe('Likes per minute, last hour65 in all · peak 7/min'));
    expect(panel.querySelector('.chart-box[role="img"]')?.getAttribute('aria-label')).toBe('History of video-1');

    await click(btn);
    expect(btn.getAttribute('aria-expanded')).toBe('false');
    expect(panel.hidden).toBe(true);
    expect(panel.querySelector('[role="img"]')).toBeNull();
    // The existing parts of the card are all still there.
    expect(container.querySelector('[data-testid="watching"]')).not.toBeNull();
    expect(container.querySelector('button[aria-label="Like Sunrise over Lisbon"]')).not.toBeNull();
    expect(byText(container, 'button', 'Start')).not.toBeNull();
  });

  test('a closed history asks nothing', async () => {
    const fetch = stubCounts();
    const { container } = await render(<VideoCard {...base} />);
    await new Promise((r) => setTimeout(r, 20));
    expect(fetch).not.toHaveBeenCalled();
    expect(container.querySelector('[aria-label^="History of"]')).toBeNull();
  });

  test('a failed history says why and retries on demand', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ error: { code: 'redis_unavailable', message: 'Redis is unreachable' } }), { status: 503 }));
    vi.stubGlobal('fetch', fetch);
    const { container } = await render(<VideoCard {...base} />);
    await click(toggle(container));
    await vi.waitFor(() => expect(container.querySelector('.video-history [role="alert"]')?.textContent).toMatch(/^Could not load the history: Redis is unreachable/));
    await click(byText(container, '.video-history button', 'Retry'));
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});

describe('lastHour', () => {
  test('ends with the minute still filling, on whole minutes', () => {
    const at = Date.UTC(2026, 0, 15, 12, 34, 56, 789);
    const q = lastHour('video-3', at);
    expect(q).toEqual({ type: 'video_liked', subject: 'video-3', from: Date.UTC(2026, 0, 15, 11, 35), to: Date.UTC(2026, 0, 15, 12, 35), step: '1m' });
    expect(lastHour('video-3', Date.UTC(2026, 0, 15, 12, 34))).toEqual(q); // the same key all minute long
  });
});

describe('Trending', () => {
  const props = { window: '1m', windows: ['1m', '5m'], onWindow: () => {}, titleOf: (s: string) => (s === 'video-1' ? 'Sunrise' : undefined) };

  test('lists entries with titles, and says so when empty', async () => {
    const { container, rerender } = await render(<Trending {...props} entries={[{ subject: 'video-1', count: 9 }, { subject: 'other', count: 3 }]} />);
    const rows = [...container.querySelectorAll('li')].map((li) => li.textContent);
    expect(rows).toEqual(['1Sunrisevideo-19', '2other3']);
    await rerender(<Trending {...props} entries={[]} />);
    expect(container.querySelector('.empty strong')?.textContent).toBe('No likes in the last 1m');
  });

  test('the window buttons say which one is chosen', async () => {
    const onWindow = vi.fn();
    const { container } = await render(<Trending {...props} entries={[]} onWindow={onWindow} />);
    expect(byText(container, 'button', '1m')?.getAttribute('aria-pressed')).toBe('true');
    await click(byText(container, 'button', '5m'));
    expect(onWindow).toHaveBeenCalledWith('5m');
  });
});
