// @vitest-environment happy-dom
import { afterEach, expect, test } from 'vitest';
import { render } from '../test/render';
import { sparkData, Sparkline } from './Sparkline';

afterEach(() => {
  document.body.innerHTML = '';
});

test.each([
  [[], [[], []]],
  [[4], [[0], [4]]],
  [[0, 3, 1], [[0, 1, 2], [0, 3, 1]]],
])('sparkData(%j) puts values at their index', (values, want) => {
  expect(sparkData(values)).toEqual(want);
});

test.each([
  [undefined, 'Likes: no history yet', 'spark-empty'],
  [[7], 'Likes: no history yet', 'spark-empty'],
  [[0, 1, 4, 2], 'Likes: 0, 1, 4, 2', 'spark'],
])('Sparkline of %j is named %j', async (values, name, className) => {
  const { container } = await render(<Sparkline values={values} label="Likes" />);
  const img = container.querySelector('[role="img"]') as HTMLElement;
  expect(img.getAttribute('aria-label')).toBe(name);
  expect(img.classList.contains(className)).toBe(true);
  expect(img.style.height).toBe('30px');
});
