import { expect, test } from 'vitest';
import { compact } from './timeChart';

test.each([
  [0, '0'],
  [0.25, '0.3'],
  [9.94, '9.9'],
  [12.4, '12'],
  [999, '999'],
  [1000, '1.0k'],
  [1250, '1.3k'],
  [15_000, '15k'],
])('compact(%d) = %s', (v, want) => {
  expect(compact(v)).toBe(want);
});
