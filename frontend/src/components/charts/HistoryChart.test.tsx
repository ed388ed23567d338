// @vitest-environment happy-dom
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { CountsResponse } from '../../api/types';
import { render } from '../../test/render';
import { HistoryChart, loadHistory, toSeries } from './HistoryChart';

const M = 60_000;
const answer = (from: number | string, to: number | string, series?: Array<[number, number]>): CountsResponse => ({
  type: 'video_liked',
  subject: 'video-7',
  from,
  to,
  count: 0,
  series: series?.map(([t, count]) => ({ t, count })),
  source: 'history',
});

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
});

describe('toSeries', () => {
  test.each([
    ['every minute answered', answer(0, 3 * M, [[0, 1], [M, 0], [2 * M, 4]]), [0, M, 2 * M], [1, 0, 4]],
    ['a minute missing is a gap, not a zero', answer(0, 4 * M, [[0, 1], [M, 2], [3 * M, 5]]), [0, M, 2 * M, 3 * M], [1, 2, null, 5]],
    ['a missing end is a gap', answer(0, 3 * M, [[0, 1], [M, 2]]), [0, M, 2 * M], [1, 2, null]],
    ['a larger step is read from the spacing', answer(0, 15 * M, [[0, 3], [5 * M, 0], [10 * M, 9]]), [0, 5 * M, 10 * M], [3, 0, 9]],
    ['a shorter last step still counts', answer(0, 11 * M, [[0, 3], [5 * M, 0], [10 * M, 9]]), [0, 5 * M, 10 * M], [3, 0, 9]],
    ['a lone point spans the range', answer(2 * M, 3 * M, [[2 * M, 6]]), [2 * M], [6]],
    ['times as strings', answer(String(M), String(3 * M), [[M, 1], [2 * M, 2]]), [M, 2 * M], [1, 2]],
    ['a point outside the range is left out', answer(0, 2 * M, [[0, 1], [M, 2], [2 * M, 3]]), [0, M], [1, 2]],
    ['an empty range', answer(5 * M, 5 * M, []), [], []],
    ['no series (asked without step)', answer(0, 3 * M), [], []],
  ])('%s', (_, r, times, counts) => {
    expect(toSeries(r)).toEqual({ times, counts });
  });
});

test('loadHistory asks /v1/counts for one subject per minute', async () => {
  const fetch = vi.fn<(url: string) => Promise<Response>>(async () => new Response(JSON.stringify(answer(0, 2 * M, [[0, 1], [M, 2]])), { status: 200 }));
  vi.stubGlobal('fetch', fetch);
  const got = await loadHistory({ type: 'video_liked', subject: 'video-7', from: 0, to: 2 * M });
  expect(fetch.mock.calls[0]![0]).toBe('/v1/counts?type=video_liked&subject=video-7&from=0&to=120000&step=1m');
  expect(got).toEqual({ times: [0, M], counts: [1, 2] });
});

describe('HistoryChart', () => {
  test.each([
    ['loading', undefined, 'Loading history…'],
    ['empty', { times: [], counts: [] }, 'No history for this range.'],
    ['drawn', { times: [0, M, 2 * M], counts: [1, null, 3] }, ''],
  ])('is named after its subject when %s', async (_, series, text) => {
    const { container } = await render(<HistoryChart subject="video-7" series={series} what="likes" />);
    const img = container.querySelector('[role="img"]');
    expect(img?.getAttribute('aria-label')).toBe('History of video-7');
    expect(img?.textContent).toBe(text);
  });
});
