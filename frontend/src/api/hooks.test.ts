import { afterEach, expect, test, vi } from 'vitest';
import { debouncer } from './hooks';

afterEach(() => {
  vi.useRealTimers();
});

test('debouncer runs only the last call, ms after it; cancel drops it', () => {
  vi.useFakeTimers();
  const ran: string[] = [];
  const d = debouncer(250);
  d(() => ran.push('a'));
  vi.advanceTimersByTime(200);
  d(() => ran.push('b'));
  vi.advanceTimersByTime(249);
  expect(ran).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(ran).toEqual(['b']);
  d(() => ran.push('c'));
  d.cancel();
  vi.advanceTimersByTime(1000);
  expect(ran).toEqual(['b']);
});
