// Every page fits the screen at the project's width (1440 and 390 px): no sideways scrolling;
// at phone width the board's cards stack in one column.
import { card, expect, openBoard, test } from './fixtures';

for (const path of ['/', '/publish', '/search', '/pipeline']) {
  test(`${path}: no sideways scrolling`, async ({ page }) => {
    await page.goto(path);
    await expect(page.locator('main h1')).toBeVisible();
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(over, `${path} is ${over} px wider than the screen`).toBeLessThanOrEqual(0);
  });
}

test('board cards stack at phone width', async ({ page }) => {
  test.skip(page.viewportSize()!.width > 600, 'phone width only');
  await openBoard(page);
  const lefts = await page.locator('article[data-subject]').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
  expect(new Set(lefts).size, `card left edges ${lefts.join(', ')}`).toBe(1);
  await expect(card(page, 'video-1')).toBeInViewport();
});
