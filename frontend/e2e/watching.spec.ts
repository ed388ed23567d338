// Who is watching: a second board counts as a watcher of the cards it shows, and stops
// counting when its tab closes.
import type { Page } from '@playwright/test';
import { card, expect, note, openBoard, test } from './fixtures';

test('N watching: a second board counts as a watcher, and stops counting when closed', async ({ page, context }) => {
  let sentWatch = false;
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string' && /"op"\s*:\s*"subscribe"/.test(f.payload) && /"watch"\s*:\s*true/.test(f.payload)) sentWatch = true;
    }),
  );
  await openBoard(page);
  await expect.poll(() => sentWatch, { message: 'the board subscribes with "watch":true', timeout: 10_000 }).toBe(true);

  const watching = card(page, 'video-1').getByTestId('watching');
  await expect(watching, 'the card shows how many watch it').toHaveText(/\d+ watching/, { timeout: 20_000 });
  /** read is the first number of the card's "N watching". */
  const read = async (p: Page = page) => {
    const m = /\d+/.exec((await card(p, 'video-1').getByTestId('watching').textContent()) ?? '');
    return m ? Number(m[0]) : NaN;
  };
  // Boards of earlier tests leave when the server's presence expires (seconds): wait until the
  // number stays put for 5 s before taking it as the baseline.
  let before = await read();
  for (let still = 0, until = Date.now() + 45_000; still < 5 && Date.now() < until; ) {
    await page.waitForTimeout(1000);
    const n = await read();
    still = n === before ? still + 1 : 0;
    before = n;
  }
  note('watching before', String(before));

  const t0 = Date.now();
  const other = await context.newPage();
  await openBoard(other);
  await expect.poll(() => read(), { message: `watching goes from ${before} to ${before + 1}`, timeout: 20_000 }).toBe(before + 1);
  note('second board counted after', `${Date.now() - t0} ms`);

  const t1 = Date.now();
  await other.close();
  await expect.poll(() => read(), { message: `watching goes back to ${before}`, timeout: 45_000, intervals: [500] }).toBe(before);
  note('closed board gone after', `${Date.now() - t1} ms`);
});
