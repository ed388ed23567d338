// The README's screenshots (docs/dashboard-*.png), taken from a real run. On request only:
//
//   PULSE_E2E_SHOTS_DIR=../docs PULSE_URL=… npx playwright test --project shots
//   PULSE_E2E=1 PULSE_E2E_SHOTS_DIR=../docs go test -run 'TestBrowser$' ./integration -v
//
// A relative directory is relative to frontend/. Pass the images through pngquant before
// committing them.
import { resolve } from 'node:path';
import { card, expect, openBoard, publish, search, test, unique, untilVisible } from './fixtures';

const dir = process.env.PULSE_E2E_SHOTS_DIR;

test('README screenshots', async ({ page, context, request }) => {
  test.skip(!dir, 'set PULSE_E2E_SHOTS_DIR to write the README screenshots');
  test.setTimeout(300_000);
  const out = (name: string) => resolve(dir!, `dashboard-${name}.png`);

  // The board with twelve generators running, counts matching what they sent.
  await openBoard(page);
  await page.locator('.toolbar input.rate-input').fill('600');
  await page.getByRole('button', { name: 'Start all' }).click();
  await page.waitForFunction(
    () => Number(document.querySelector('article[data-subject="video-1"] [data-window="1m"] [data-count]')?.getAttribute('data-count')) >= 250,
    null,
    { timeout: 90_000 },
  );
  await expect(card(page, 'video-1').locator('.sync-ok')).toBeVisible({ timeout: 20_000 });
  await page.waitForTimeout(1500); // the count animations settle
  await page.screenshot({ path: out('board') });

  // While they run (the board keeps generating in its own tab): the pipeline with its rates.
  const other = await context.newPage();
  await other.goto('/pipeline');
  await expect(other.locator('tr[data-partition]').first()).toBeVisible();
  await other.waitForTimeout(11_000); // two rate samples at least, so the chart has lines
  await other.screenshot({ path: out('pipeline') });
  await other.close();
  await page.getByRole('button', { name: 'Stop all' }).click();

  // Publish all with one invalid item: the partial batch's receipts.
  await page.getByRole('link', { name: 'Publish' }).click();
  await page.locator('textarea.editor').fill(
    JSON.stringify({ id: unique('evt-'), type: 'link_clicked', subject: 'https://example.com/pricing', data: { campaign: 'spring', position: 3 } }, null, 2),
  );
  await page.locator('.bulk input[type="number"]').fill('5');
  const box = page.getByLabel('add one invalid item');
  if (!(await box.isChecked())) await box.check();
  await page.getByRole('button', { name: /^Publish all/ }).click();
  await expect(page.locator('.receipts tbody tr')).toHaveCount(6);
  await page.screenshot({ path: out('publish') });

  // Search: a few kinds of events with one word in common, the newest one's detail open.
  const word = 'autumn';
  const batch = unique('evt-');
  await publish(request, [
    { id: `${batch}-1`, type: 'video_viewed', subject: 'video-3', data: { seconds: 42, quality: '1080p', campaign: word } },
    { id: `${batch}-2`, type: 'link_clicked', subject: 'https://example.com/pricing', data: { campaign: word, position: 1 } },
    { id: `${batch}-3`, type: 'session_started', subject: 'user-42', data: { device: 'mobile', country: 'PT', campaign: word } },
    { id: `${batch}-4`, type: 'video_liked', subject: 'video-1', data: { source: 'newsletter', campaign: word } },
  ]);
  await page.getByRole('link', { name: 'Search' }).click();
  await search(page, word);
  await untilVisible(page, page.locator(`li.hit[data-id="${batch}-4"]`));
  await page.locator('li.hit .hit-main').first().click();
  await expect(page.locator('aside.detail')).toBeVisible();
  await page.screenshot({ path: out('search') });

  // The board at phone width.
  await page.setViewportSize({ width: 390, height: 844 });
  await openBoard(page);
  await page.screenshot({ path: out('mobile') });
});
