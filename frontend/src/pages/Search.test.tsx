import { expect, test } from 'vitest';
import { failureHit, queryOf, readState, replayText, writeState } from './Search';

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
