// Accessibility (axe-core, every rule it runs by default) of every page and dialog, at the
// project's width (1440 and 390 px): no serious or critical violation. Each one found is printed
// with its rule, what it asks for and the elements (selectors) that break it; the whole axe
// answer is attached to the test.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect, note, openBoard, publish, search, test, unique, untilVisible } from './fixtures';

// Colors are judged at rest: a count that rises fades in for half a second (Count.tsx), unless
// the user asked for reduced motion.
test.use({ reducedMotion: 'reduce' });

async function checkA11y(page: Page, what: string): Promise<void> {
  // @axe-core/playwright types its page with the top-level playwright-core, a patch release
  // apart from @playwright/test's own: the same API.
  const results = await new AxeBuilder({ page } as unknown as ConstructorParameters<typeof AxeBuilder>[0]).analyze();
  await test.info().attach(`axe-${what.replace(/\W+/g, '-')}.json`, { body: JSON.stringify(results.violations, null, 2), contentType: 'application/json' });
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = results.violations.filter((v) => !bad.includes(v));
  if (minor.length) note('axe (minor, moderate)', minor.map((v) => `${v.id} ×${v.nodes.length}`).join(', '));
  const report = bad
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.helpUrl})\n` +
        v.nodes.map((n) => `    ${n.target.join(' ')}${n.failureSummary ? ` — ${n.failureSummary.split('\n').slice(1, 2).join('').trim()}` : ''}`).join('\n'),
    )
    .join('\n');
  if (report) console.log(`axe: ${what} at ${page.viewportSize()?.width} px:\n${report}`);
  expect(bad.length, `${what}: serious or critical accessibility violations:\n${report}`).toBe(0);
}

test('board', async ({ page }) => {
  await openBoard(page);
  await checkA11y(page, 'board');
});

test('board: the videos dialog', async ({ page }) => {
  await openBoard(page);
  await page.getByRole('button', { name: 'Edit videos' }).click();
  await expect(page.getByRole('dialog', { name: 'Videos on the board' })).toBeVisible();
  await checkA11y(page, 'videos dialog');
});

test('the key dialog', async ({ page }) => {
  await openBoard(page);
  await page.locator('.key-button').click();
  await expect(page.getByRole('dialog', { name: 'API key' })).toBeVisible();
  await checkA11y(page, 'key dialog');
});

test('publish, with receipts', async ({ page }) => {
  await page.goto('/publish');
  await page.locator('.bulk input[type="number"]').fill('3');
  const box = page.getByLabel('add one invalid item');
  if (!(await box.isChecked())) await box.check();
  await page.getByRole('button', { name: /^Publish all/ }).click();
  await expect(page.locator('tr[data-status="rejected"]')).toHaveCount(1);
  await checkA11y(page, 'publish');
});

test('search, with results and the detail panel open', async ({ page, request }) => {
  const word = unique('e2eaxe');
  const id = `${word}-event`;
  await publish(request, [{ id, type: 'link_clicked', subject: 'https://example.com/e2e', data: { note: word } }]);
  await page.goto('/search');
  await search(page, word);
  await untilVisible(page, page.locator(`li.hit[data-id="${id}"]`));
  await page.locator(`li.hit[data-id="${id}"] .hit-main`).click();
  await expect(page.locator('aside.detail')).toBeVisible();
  await checkA11y(page, 'search');
});

test('search: the failures tab', async ({ page, request }) => {
  const word = unique('e2eaxefail');
  await publish(request, [
    { id: `${word}-1`, type: 'link_clicked', subject: 'https://example.com/e2e', data: { note: word } },
    { id: `${word}-invalid`, type: 'Not A Valid Type', subject: 'https://example.com/e2e', data: { note: word } },
  ]);
  await page.goto(`/search?tab=failures&q=${word}`);
  await untilVisible(page, page.locator('li.hit'));
  await checkA11y(page, 'failures');
});

test('pipeline', async ({ page }) => {
  await page.goto('/pipeline');
  await expect(page.locator('tr[data-partition]').first()).toBeVisible();
  await checkA11y(page, 'pipeline');
});
