// The Pipeline page: every partition of the pulse under test.
import { expect, note, partitions, test } from './fixtures';

test('Pipeline page shows the partitions', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Pipeline' }).click();
  await expect(page.locator('tr[data-partition]').first()).toBeVisible();
  await expect(page.locator('tr[data-partition]')).toHaveCount(partitions);
  note('partitions', String(partitions));
});
