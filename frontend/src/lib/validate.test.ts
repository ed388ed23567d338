import { expect, test } from 'vitest';
import { parseJSON, validateEvent } from './validate';
import { parseVideos } from './videos';

const now = Date.UTC(2025, 5, 1, 12, 0, 0);
const fields = (v: unknown) => validateEvent(v, now).map((e) => e.field);

test.each([
  ['minimal', { type: 'video_liked', subject: 'video-1' }, []],
  ['everything', { id: 'e-1:a.b_c', type: 'a.b-c_9', subject: 'x', time: '2025-06-01T11:59:00Z', data: { k: 1 } }, []],
  ['ms time', { type: 't', subject: 's', time: now - 1000 }, []],
  ['not an object', ['x'], ['']],
  ['missing type', { subject: 's' }, ['type']],
  ['upper-case type', { type: 'Video_Liked', subject: 's' }, ['type']],
  ['type with a space', { type: 'not valid', subject: 's' }, ['type']],
  ['missing subject', { type: 't' }, ['subject']],
  ['numeric subject', { type: 't', subject: 7 }, ['subject']],
  ['long subject', { type: 't', subject: 'x'.repeat(129) }, ['subject']],
  ['control char', { type: 't', subject: 'a\u0007' }, ['subject']],
  ['bad id', { id: 'has space', type: 't', subject: 's' }, ['id']],
  ['long id', { id: 'x'.repeat(129), type: 't', subject: 's' }, ['id']],
  ['bad time', { type: 't', subject: 's', time: 'yesterday' }, ['time']],
  ['seconds not ms', { type: 't', subject: 's', time: 1700000000 }, ['time']],
  ['far future', { type: 't', subject: 's', time: now + 6 * 60_000 }, ['time']],
  ['near future', { type: 't', subject: 's', time: now + 4 * 60_000 }, []],
  ['array data', { type: 't', subject: 's', data: [1] }, ['data']],
  ['huge data', { type: 't', subject: 's', data: { x: 'y'.repeat(33 * 1024) } }, ['data']],
  ['two problems', { type: 'X', subject: '' }, ['type', 'subject']],
])('%s', (_, v, want) => {
  expect(fields(v)).toEqual(want);
});

test('parseJSON says where a syntax error is', () => {
  expect(parseJSON('{"a": 1}')).toEqual({ value: { a: 1 } });
  const r = parseJSON('{\n  "a": 1,\n  "b": }');
  expect(r.error?.line).toBe(3);
  expect(r.error?.column).toBeGreaterThan(1);
  expect(parseJSON('   ').error?.message).toBeTruthy();
});

test('parseVideos reads "id title" lines', () => {
  expect(parseVideos('v1 First one\n\n  v2\n')).toEqual({ videos: [{ id: 'v1', title: 'First one' }, { id: 'v2', title: 'v2' }], errors: [] });
  expect(parseVideos('a x\na y').errors).toEqual(['line 2: a is listed twice']);
  expect(parseVideos('').errors).toEqual(['list at least one video']);
});
