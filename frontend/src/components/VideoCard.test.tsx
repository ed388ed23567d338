// @vitest-environment happy-dom
import { afterEach, describe, expect, test, vi } from 'vitest';
import { byText, click, render, type } from '../test/render';
import { VideoCard, type VideoCardProps } from './VideoCard';
import { Trending } from './Trending';

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
