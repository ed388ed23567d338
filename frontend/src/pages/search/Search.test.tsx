// @vitest-environment happy-dom
import { act } from 'react';
import { afterEach, expect, test, vi } from 'vitest';
import { byText, click, render } from '../../test/render';
import { archiveCountText } from './ArchiveCount';
import { failureHit } from './FailureStream';
import { Search } from './index';
import { replayText } from './ReplayBar';
import { queryOf, readState, writeState } from './urlState';

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
  history.replaceState(null, '', '/');
});

test('search state round-trips through the URL', () => {
  const url = '?tab=failures&q=timeout&type=a&type=b&stage=counter&subject=v1&range=custom&from=2025-01-01T10%3A00&to=2025-01-02T10%3A00&sort=time%3Aasc&offset=40';
  expect(writeState(readState(url))).toBe(url);
  expect(readState('')).toMatchObject({ tab: 'events', q: '', types: [], range: 'all', sort: 'time:desc', offset: 0 });
  expect(readState('?range=bogus&offset=-5').range).toBe('all');
  expect(readState('?offset=-5').offset).toBe(0);
});

test('queryOf maps presets to from, and leaves empty filters out', () => {
  const now = 1_700_000_000_000;
  const s = readState('?q=%20hello%20&range=15m&type=video_liked');
  expect(queryOf(s, now)).toMatchObject({ q: 'hello', type: ['video_liked'], from: now - 15 * 60_000, to: undefined, sort: 'time:desc', limit: 20, offset: 0, stage: undefined, subject: undefined });
  expect(queryOf(readState('?range=all'), now).from).toBeUndefined();
});

test('failureHit names the event a rejected body carried', () => {
  const body = JSON.stringify({ id: 'e-1', type: 'Bad Type', subject: 'video-1' });
  expect(failureHit({ id: '1-0', stage: 'ingest', reason: 'invalid_type: …', at: 5, record: { body, request_id: 'r' } })).toMatchObject({
    id: '1-0', type: 'Bad Type', subject: 'video-1', time: 5, stage: 'ingest',
  });
  expect(failureHit({ id: '2-0', stage: 'counter', reason: 'script', at: 6, record: { type: 'video_liked', subject: 'v2' } })).toMatchObject({ type: 'video_liked', subject: 'v2' });
  expect(failureHit({ id: '3-0', stage: 'ingest', reason: 'bad json', at: 7, record: { body: '{oops' } })).toMatchObject({ type: '', subject: '' });
});

test('replayText counts what went back and why the rest stayed', () => {
  expect(replayText({ replayed: [{ id: 'a' }, { id: 'b' }], skipped: [] })).toBe('Replayed 2: back in their partitions, counted once.');
  expect(replayText({ replayed: [], skipped: [{ id: 'a', reason: 'not_an_event' }, { id: 'b', reason: 'not_an_event' }, { id: 'c', reason: 'not_found' }] })).toBe(
    'Nothing was replayed. 2 left in place (not an event). 1 left in place (not found).',
  );
});

test('archiveCountText says how many and what answered', () => {
  expect(archiveCountText({ count: 1234, source: 'archive' })).toBe('1,234 events (source: archive)');
  expect(archiveCountText({ count: 1, source: 'both' })).toBe('1 event (source: both)');
  expect(archiveCountText({ count: 0, source: 'history' })).toBe('0 events (source: history)');
});

/** stubApi answers /v1/search with no hits and /v1/counts with counts (a Response, or a function of the URL). */
function stubApi(counts: (url: URL) => Response) {
  const fetch = vi.fn(async (url: string) => {
    const u = new URL(url, 'http://pulse');
    if (u.pathname === '/v1/counts') return counts(u);
    return new Response(JSON.stringify({ hits: [], total: 0, facets: { type: { video_liked: 0 } } }), { status: 200 });
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

const countsCalls = (fetch: ReturnType<typeof stubApi>) =>
  fetch.mock.calls.map((c) => new URL(c[0], 'http://pulse')).filter((u) => u.pathname === '/v1/counts');

async function pick(select: Element | null, value: string) {
  if (!select) throw new Error('no select');
  await act(async () => {
    (select as HTMLSelectElement).value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

test('a search for one type offers a count from the archive: /v1/counts for the type, subject and range', async () => {
  history.replaceState(null, '', '/search?type=video_liked&subject=video-1');
  const fetch = stubApi((u) => {
    const days = (Number(u.searchParams.get('to')) - Number(u.searchParams.get('from'))) / 86_400_000;
    const body = { type: 'video_liked', subject: 'video-1', from: 0, to: 0, count: days === 365 ? 123_456 : 7, source: days === 365 ? 'archive' : 'both' };
    return new Response(JSON.stringify(body), { status: 200 });
  });
  const { container, unmount } = await render(<Search />);
  const section = container.querySelector('section[aria-label="Count from the archive"]')!;
  expect(section).not.toBeNull();
  const live = section.querySelector('[aria-live="polite"]')!;
  expect(live.textContent).toBe('');
  expect(countsCalls(fetch)).toHaveLength(0); // nothing is asked before the click

  const select = byText(section, 'label', /Range/)?.querySelector('select');
  expect([...select!.options].map((o) => o.textContent)).toEqual(['last 7 days', 'last 30 days', 'last 90 days', 'last 365 days']);
  await pick(select!, '365d');
  const before = Date.now();
  await click(byText(section, 'button', 'Older than search retention? Count from the archive'));
  await vi.waitFor(() => expect(live.textContent).toBe('123,456 events (source: archive)'));

  const [u] = countsCalls(fetch);
  expect(u!.searchParams.get('type')).toBe('video_liked');
  expect(u!.searchParams.get('subject')).toBe('video-1');
  const to = Number(u!.searchParams.get('to'));
  expect(to).toBeGreaterThanOrEqual(before);
  expect(to).toBeLessThanOrEqual(Date.now());
  expect(to - Number(u!.searchParams.get('from'))).toBe(365 * 86_400_000);

  // Once shown, another range counts again.
  await pick(select!, '30d');
  await vi.waitFor(() => expect(live.textContent).toBe('7 events (source: both)'));
  const second = countsCalls(fetch)[1]!;
  expect(Number(second.searchParams.get('to')) - Number(second.searchParams.get('from'))).toBe(30 * 86_400_000);
  await unmount();
});

test('the archive count leaves out the subject when the search has none, and shows a failure as the page does', async () => {
  history.replaceState(null, '', '/search?type=video_liked');
  const fetch = stubApi(
    () => new Response(JSON.stringify({ error: { code: 'archive_unavailable', message: 'the archive cannot be read' } }), { status: 503 }),
  );
  const { container, unmount } = await render(<Search />);
  await click(byText(container, 'button', /Count from the archive/));
  const live = container.querySelector('[data-archive-count]')!;
  await vi.waitFor(() => expect(live.textContent).toBe('the archive cannot be read'));
  expect(live.classList.contains('error-text')).toBe(true);
  const [u] = countsCalls(fetch);
  expect(u!.searchParams.get('type')).toBe('video_liked');
  expect(u!.searchParams.has('subject')).toBe(false);
  expect(Number(u!.searchParams.get('to')) - Number(u!.searchParams.get('from'))).toBe(90 * 86_400_000); // the default range
  await unmount();
});

test.each([
  ['no type', '/search?q=hello'],
  ['two types', '/search?type=a&type=b'],
  ['the failures tab', '/search?tab=failures&type=a'],
])('no archive count with %s', async (_, url) => {
  history.replaceState(null, '', url);
  stubApi(() => new Response('{}'));
  const { container, unmount } = await render(<Search />);
  expect(container.querySelector('section[aria-label="Count from the archive"]')).toBeNull();
  await unmount();
});
