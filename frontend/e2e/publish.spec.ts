// The Publish page: one event, and a partial batch with each item's answer.
import { expect, note, publishOnPage, test, unique } from './fixtures';

test('Publish one event', async ({ page }) => {
  const id = unique('e2e-one-');
  await publishOnPage(page, { id, type: 'link_clicked', subject: 'https://example.com/e2e', data: { campaign: 'browser test' } });
  await expect(page.locator('tr[data-status="accepted"]')).toHaveCount(1);
  await expect(page.locator('tr[data-status="accepted"]')).toContainText(id);
});

test('Publish all with one invalid item shows its rejection', async ({ page }) => {
  await page.goto('/publish');
  await page.locator('textarea.editor').fill(
    JSON.stringify({ id: unique('e2e-all-'), type: 'link_clicked', subject: 'https://example.com/e2e', data: { campaign: 'browser test' } }, null, 2),
  );
  await expect(page.getByText('Valid event')).toBeVisible();
  await page.locator('.bulk input[type="number"]').fill('5');
  const box = page.getByLabel('add one invalid item');
  if (!(await box.isChecked())) await box.check();
  await page.getByRole('button', { name: /^Publish all/ }).click();
  await expect(page.locator('.receipts tbody tr')).toHaveCount(6);
  const rejected = page.locator('tr[data-status="rejected"]');
  await expect(rejected).toHaveCount(1);
  await expect(rejected).toContainText('invalid_type');
  await expect(page.locator('tr[data-status="accepted"]')).toHaveCount(5);
  note('rejection', ((await rejected.locator('td').allTextContents()).join(' | ')).slice(0, 120));
});
