// @vitest-environment happy-dom
import { act } from 'react';
import { afterEach, expect, test, vi } from 'vitest';
import type { SearchResponse } from '../../api/types';
import { byText, click, render, type } from '../../test/render';
import { FILTER_ABOVE } from './Facet';
import { Search } from './index';
import { incomplete } from './SearchBox';
import type { Hit } from './useSearch';

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
  history.replaceState(null, '', '/');
});

const hit: Hit = {
  id: 'evt-m3k9x2-4f',
  type: 'video_liked',
  subject: 'video-1',
  time: 1_790_000_000_000,
  data: { title: 'Cats on skis', user: 'u1' },
  highlights: { id: ['evt-m3k9x2-4f'], subject: ['video'], text: ['cats', 'skis'] },
};

/** stubSearch answers /v1/search with body, /v1/search/facets with facets, and records every URL asked. */
function stubSearch(body: SearchResponse<Hit>, facets: Array<{ value: string; count: number }> = []) {
  const urls: URL[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      const u = new URL(url, 'http://pulse');
      urls.push(u);
      if (u.pathname === '/v1/search/facets') return new Response(JSON.stringify({ facet: 'type', values: facets, took_ms: 1 }));
      return new Response(JSON.stringify(body));
    }),
  );
  return {
    searches: () => urls.filter((u) => u.pathname === '/v1/search').map((u) => u.searchParams.get('q')),
    facetCalls: () => urls.filter((u) => u.pathname === '/v1/search/facets'),
  };
}

const box = () => document.querySelector('input[type="search"]')!;
const q = () => new URLSearchParams(location.search).get('q');

test('searches as you type, 250 ms after the last key, only the last text', async () => {
  history.replaceState(null, '', '/search');
  const api = stubSearch({ hits: [], total: 0 });
  const { unmount } = await render(<Search />);
  await type(box(), 'ca');
  await type(box(), 'cat');
  expect(q()).toBeNull(); // not yet
  await vi.waitFor(() => expect(q()).toBe('cat'));
  await vi.waitFor(() => expect(api.searches()).toContain('cat'));
  expect(api.searches()).not.toContain('ca');
  await unmount();
});

test('Enter searches at once', async () => {
  history.replaceState(null, '', '/search');
  stubSearch({ hits: [], total: 0 });
  const { unmount } = await render(<Search />);
  await type(box(), 'dog');
  await act(async () => box().dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })));
  expect(q()).toBe('dog');
  await unmount();
});

test.each([
  ['id:', true],
  ['cats id:', true],
  ['id: ', true],
  ['id:evt-1', false],
  ['valid:', false],
  ['cats', false],
])('incomplete(%j) = %s', (text, want) => {
  expect(incomplete(text)).toBe(want);
});

test('the events tab hints at id: lookups; the failures tab does not', async () => {
  history.replaceState(null, '', '/search');
  stubSearch({ hits: [], total: 0 });
  const { container, unmount } = await render(<Search />);
  const hint = document.getElementById(box().getAttribute('aria-describedby')!);
  expect(hint?.textContent).toBe('Tip: id:evt-… finds one event');
  await click(byText(container, 'button', 'Failures'));
  expect(container.querySelector('.search-hint')).toBeNull();
  await unmount();
});

const marks = (el: Element | null) => [...(el?.querySelectorAll('mark') ?? [])].map((m) => m.textContent);

test('a hit marks the words it matched, in the row and in the detail', async () => {
  history.replaceState(null, '', '/search?q=cats');
  stubSearch({ hits: [hit], total: 1, facets: { type: { video_liked: 1 } } });
  const { container, unmount } = await render(<Search />);
  await vi.waitFor(() => expect(container.querySelector('li.hit')).not.toBeNull());
  const row = container.querySelector('li.hit')!;
  expect(marks(row.querySelector('.hit-id'))).toEqual(['evt', 'm3k9x2', '4f']);
  expect(marks(row.querySelector('.type-tag'))).toEqual([]);
  expect(marks(row.querySelector('.hit-subject'))).toEqual(['video']);
  expect(marks(row.querySelector('.hit-preview'))).toEqual(['Cats', 'skis']);
  expect(row.querySelector('.hit-preview')?.textContent).toBe('{"title":"Cats on skis","user":"u1"}');

  await click(row.querySelector('.hit-main'));
  const detail = container.querySelector('aside.detail')!;
  const pre = detail.querySelector('pre')!;
  expect(marks(pre)).toEqual(['Cats', 'skis']);
  expect(JSON.parse(pre.textContent!)).toEqual({ id: hit.id, type: hit.type, subject: hit.subject, time: hit.time, data: hit.data });
  expect(marks(detail.querySelector('dl'))).toEqual(['evt', 'm3k9x2', '4f', 'video']);
  await unmount();
});

test('hits without highlights show plain text', async () => {
  history.replaceState(null, '', '/search');
  const plain = { ...hit, highlights: {} };
  stubSearch({ hits: [plain, { ...hit, id: 'e-2', highlights: undefined }], total: 2 });
  const { container, unmount } = await render(<Search />);
  await vi.waitFor(() => expect(container.querySelectorAll('li.hit')).toHaveLength(2));
  expect(container.querySelectorAll('mark')).toHaveLength(0);
  await unmount();
});

const types = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`type_${i}`, 100 - i]));

test('with many types, a filter lists the types that start with what is typed', async () => {
  history.replaceState(null, '', '/search');
  const api = stubSearch({ hits: [], total: 0, facets: { type: types(FILTER_ABOVE + 1) } }, [
    { value: 'video_liked', count: 12 },
    { value: 'video_viewed', count: 3 },
  ]);
  const { container, unmount } = await render(<Search />);
  const filter = await vi.waitFor(() => {
    const f = container.querySelector('input[aria-label="Filter types"]');
    expect(f).not.toBeNull();
    return f!;
  });
  expect(filter.getAttribute('type')).toBe('text'); // the page keeps one searchbox
  await type(filter, 'Vid');
  await vi.waitFor(() => expect(container.querySelector('.facet .facet-name')?.textContent).toBe('video_liked'));
  const [call] = api.facetCalls();
  expect(Object.fromEntries(call!.searchParams)).toEqual({ facet: 'type', q: 'Vid', limit: '20' });
  const rows = () => [...container.querySelectorAll('.facet-row')].map((r) => r.textContent);
  expect(rows()).toEqual(['video_liked12', 'video_viewed3']);

  await click(container.querySelector('.facet-row input'));
  expect(new URLSearchParams(location.search).getAll('type')).toEqual(['video_liked']);
  await unmount();
});

test('with few types, no filter', async () => {
  history.replaceState(null, '', '/search');
  const api = stubSearch({ hits: [], total: 0, facets: { type: types(FILTER_ABOVE) } });
  const { container, unmount } = await render(<Search />);
  await vi.waitFor(() => expect(container.querySelectorAll('.facet-row')).toHaveLength(FILTER_ABOVE));
  expect(container.querySelector('input[aria-label="Filter types"]')).toBeNull();
  expect(api.facetCalls()).toHaveLength(0);
  await unmount();
});
