// @vitest-environment happy-dom
import { afterEach, describe, expect, test } from 'vitest';
import { render } from '../test/render';
import { alignedData, LineChart } from './LineChart';

afterEach(() => {
  document.body.innerHTML = '';
});

describe('alignedData', () => {
  test.each([
    ['x first, then each series', [1, 2], [[10, 11], [20, 21]], [[1, 2], [10, 11], [20, 21]]],
    ['unknown rates stay gaps', [1, 2, 3], [[10, null, 12]], [[1, 2, 3], [10, null, 12]]],
    ['a short series is padded with gaps', [1, 2, 3], [[10]], [[1, 2, 3], [10, null, null]]],
    ['a long series is cut to the times', [1], [[10, 11]], [[1], [10]]],
    ['no series', [1, 2], [], [[1, 2]]],
  ])('%s', (_, times, values, want) => {
    expect(alignedData(times, values.map((v) => ({ values: v })))).toEqual(want);
  });
});

describe('LineChart', () => {
  const series = [{ name: 'ingest', className: 's-ingest', values: [1, 2], area: true }];

  test('is an image named by its label', async () => {
    const { container } = await render(<LineChart label="Events per second" unit="events/s" times={[1000, 6000]} series={series} />);
    const img = container.querySelector('[role="img"]');
    expect(img?.getAttribute('aria-label')).toBe('Events per second');
    expect(img?.classList.contains('chart')).toBe(true);
  });

  test('says it is collecting before two samples', async () => {
    const { container } = await render(<LineChart label="Events per second" unit="events/s" times={[1000]} series={series} />);
    const img = container.querySelector('[role="img"]');
    expect(img?.getAttribute('aria-label')).toBe('Events per second: not enough samples yet');
    expect(img?.textContent).toBe('Collecting samples… rates appear after the first few seconds.');
  });
});
