// @vitest-environment happy-dom
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import type uPlot from 'uplot';
import { render } from '../../test/render';
import { Chart, type ChartOptions } from './Chart';

// happy-dom has no canvas: this file lends it one and stands in for uPlot, to see what the
// wrapper asks of uPlot over a chart's life.
const plots = vi.hoisted(() => [] as Array<{ opts: { width: number; height: number }; calls: string[] }>);
vi.mock('uplot', () => ({
  default: class {
    calls: string[] = [];
    constructor(readonly opts: { width: number; height: number }) {
      plots.push(this);
    }
    setData(d: uPlot.AlignedData) {
      this.calls.push(`setData ${JSON.stringify(d)}`);
    }
    setSize(s: { width: number; height: number }) {
      this.calls.push(`setSize ${s.width}x${s.height}`);
    }
    destroy() {
      this.calls.push('destroy');
    }
  },
}));

let resized: () => void = () => {};
beforeAll(() => {
  vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue({} as CanvasRenderingContext2D);
  vi.stubGlobal(
    'ResizeObserver',
    class {
      constructor(cb: () => void) {
        resized = cb;
      }
      observe() {}
      disconnect() {}
    },
  );
});
afterAll(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

const options = (): ChartOptions => ({ series: [{}, {}] });

test('one uPlot per chart: fed by setData, resized with its box, destroyed with it', async () => {
  const { container, rerender, unmount } = await render(<Chart label="Rates" className="chart" height={120} options={options} data={[[1, 2], [3, 4]]} />);
  await vi.waitFor(() => expect(plots).toHaveLength(1)); // uPlot is imported on demand
  expect(plots[0]!.opts.height).toBe(120);
  expect(container.querySelector('[role="img"]')?.getAttribute('aria-label')).toBe('Rates');

  await rerender(<Chart label="Rates" className="chart" height={120} options={options} data={[[1, 2, 3], [3, 4, null]]} />);
  expect(plots).toHaveLength(1);
  expect(plots[0]!.calls).toEqual(['setData [[1,2,3],[3,4,null]]']);

  resized();
  expect(plots[0]!.calls.at(-1)).toBe('setSize 0x120'); // happy-dom lays nothing out: 0 wide

  // New options are a new chart, with the data it had.
  await rerender(<Chart label="Rates" className="chart" height={120} options={() => options()} data={[[1, 2, 3], [3, 4, null]]} />);
  await vi.waitFor(() => expect(plots).toHaveLength(2));
  expect(plots[0]!.calls.at(-1)).toBe('destroy');

  await unmount();
  expect(plots[1]!.calls).toEqual(['destroy']);
});
