import { expect, test } from 'vitest';
import { bytes } from './format';

test.each([
  [0, '0 B'],
  [999, '999 B'],
  [1000, '1 kB'],
  [2048, '2 kB'],
  [12_400_000, '12.4 MB'],
  [999_960, '1 MB'],
  [1_234_567_890, '1.2 GB'],
  [5e15, '5 PB'],
  [null, '—'],
  [Number.NaN, '—'],
])('bytes(%j) = %j', (n, want) => {
  expect(bytes(n)).toBe(want);
});
