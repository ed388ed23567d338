import { expect, test } from 'vitest';
import { ApiError } from './http';
import { keys, shouldRetry } from './query';

test.each([
  ['network failure, first', new ApiError(0, 'network', 'down'), 0, true],
  ['network failure, second', new ApiError(0, 'network', 'down'), 1, true],
  ['network failure, third', new ApiError(0, 'network', 'down'), 2, false],
  ['503', new ApiError(503, 'redis_unavailable', 'x'), 0, true],
  ['500', new ApiError(500, 'internal', 'x'), 1, true],
  ['400', new ApiError(400, 'invalid_parameter', 'x'), 0, false],
  ['401', new ApiError(401, 'unauthorized', 'x'), 0, false],
  ['403', new ApiError(403, 'forbidden', 'x'), 0, false],
  ['404', new ApiError(404, 'not_found', 'x'), 0, false],
  ['not an API error', new TypeError('failed to fetch'), 0, true],
])('retry after %s: %s', (_, err, failures, want) => {
  expect(shouldRetry(failures, err)).toBe(want);
});

test('prefix keys cover the keys they invalidate', () => {
  expect(keys.search('failures', '?tab=failures&q=x').slice(0, 2)).toEqual(keys.search('failures'));
  expect(keys.failures(50).slice(0, 1)).toEqual(keys.failures());
  expect(keys.counts('video_liked', 'video-1', { from: 0, to: 60_000, step: '1m' }).slice(0, 3)).toEqual(keys.counts('video_liked', 'video-1'));
});
