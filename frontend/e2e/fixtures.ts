// Shared by the specs: the test object (every test fails on an uncaught error in its pages), the
// board's cards as the page shows them, publishing through the page or the API, and notes.
//
// The checks wait for conditions with generous bounds (a loaded 2-core machine runs pulse, Redis
// and Chromium at once) and report how long things took rather than assert it.
import { test as base, expect, type APIRequestContext, type Locator, type Page } from '@playwright/test';

export { expect };

/** Partitions the pulse under test has (integration/browser_test.go starts it with 8). */
export const partitions = Number(process.env.PULSE_E2E_PARTITIONS ?? 8);

export const test = base.extend<{ pageErrors: string[] }>({
  // Every page of the test's context reports its uncaught errors; the test fails on any.
  pageErrors: [
    async ({ context }, use) => {
      const errors: string[] = [];
      const watch = (p: Page) => p.on('pageerror', (e) => errors.push(`${p.url()}: ${e.message}`));
      context.pages().forEach(watch);
      context.on('page', watch);
      await use(errors);
      expect(errors, 'uncaught errors in the page').toEqual([]);
    },
    { auto: true },
  ],
});

/** unique is a name no other test or run uses: ids and words to find again. */
export function unique(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** note reports a figure (a duration, a count) with the test: in the report and on the console. */
export function note(type: string, description: string): void {
  test.info().annotations.push({ type, description });
  console.log(`  ${test.info().title}: ${type}: ${description}`);
}

export const card = (page: Page, id: string) => page.locator(`article[data-subject="${id}"]`);

export interface CardReading {
  windows: Record<string, { observed: number; lo: number | null; hi: number | null }>;
  drift: number;
}

/** readCard is a card's observed and expected counts, as the page shows them. */
export async function readCard(page: Page, id: string): Promise<CardReading> {
  return card(page, id).evaluate((el) => {
    const windows: CardReading['windows'] = {};
    for (const w of el.querySelectorAll('[data-window]')) {
      const exp = w.querySelector('[data-expected]');
      windows[w.getAttribute('data-window')!] = {
        observed: Number(w.querySelector('[data-count]')?.getAttribute('data-count') || NaN),
        lo: exp ? Number(exp.getAttribute('data-expected')) : null,
        hi: exp ? Number(exp.getAttribute('data-expected-hi')) : null,
      };
    }
    return { windows, drift: Number(el.getAttribute('data-drift')) };
  });
}

/** openBoard opens the live board and waits until it is live and every card shows counts. */
export async function openBoard(page: Page): Promise<void> {
  await page.goto('/');
  await expect(card(page, 'video-1')).toBeVisible({ timeout: 15_000 });
  await expect(page.locator('.badge[data-state="live"]')).toBeVisible({ timeout: 15_000 });
  // Counts have arrived (snapshot) when every card shows a number.
  await page.waitForFunction(
    () => [...document.querySelectorAll('[data-window="1m"] [data-count]')].every((e) => e.getAttribute('data-count') !== ''),
    null,
    { timeout: 15_000 },
  );
}

/** publishOnPage publishes one event from the Publish page's editor and waits for its receipt. */
export async function publishOnPage(page: Page, event: Record<string, unknown>): Promise<void> {
  if (new URL(page.url(), 'http://x').pathname !== '/publish') await page.goto('/publish');
  await page.locator('textarea.editor').fill(JSON.stringify(event, null, 2));
  await expect(page.getByText('Valid event')).toBeVisible();
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await expect(page.locator('tr[data-status="accepted"]').first()).toBeVisible();
}

export interface ItemResult {
  id?: string;
  status: 'accepted' | 'duplicate' | 'rejected';
  error?: { code: string; message: string };
}

/** publish sends events with POST /v1/events (docs/ingest.md), as any producer would. */
export async function publish(request: APIRequestContext, events: Array<Record<string, unknown>>): Promise<ItemResult[]> {
  const res = await request.post('/v1/events', { data: events, headers: { 'Content-Type': 'application/json' } });
  expect(res.status(), await res.text()).toBeLessThan(500);
  // A 400 where every item was rejected still answers per item, in the error's details.
  const body = (await res.json()) as { results?: ItemResult[]; error?: { details?: { results?: ItemResult[] } } };
  return body.results ?? body.error?.details?.results ?? [];
}

/** searchIds is the ids /v1/search answers for q (first page). */
export async function searchIds(request: APIRequestContext, q: string): Promise<string[]> {
  const res = await request.get('/v1/search', { params: { q, limit: 100 } });
  expect(res.ok(), await res.text()).toBe(true);
  return ((await res.json()) as { hits: Array<{ id: string }> }).hits.map((h) => h.id);
}

/**
 * search types q into the Search page's box (no Enter: the search runs as you type) and waits
 * until the debounced query is in the URL.
 */
export async function search(page: Page, q: string, opts: { type?: boolean } = {}): Promise<void> {
  const box = page.getByRole('searchbox');
  if (opts.type) {
    await box.clear();
    await box.pressSequentially(q, { delay: 60 });
  } else await box.fill(q);
  await page.waitForURL((u) => u.searchParams.get('q') === q, { timeout: 10_000 });
}

/**
 * untilVisible waits for what may take a moment to be indexed (usually well under a second,
 * seconds on a loaded machine), asking the page to refresh its results between looks.
 */
export async function untilVisible(page: Page, what: Locator, timeout = 30_000): Promise<void> {
  await expect(async () => {
    if (!(await what.count())) {
      await page
        .getByRole('button', { name: 'Refresh' })
        .click({ timeout: 1000 })
        .catch(() => {});
    }
    await expect(what.first()).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout, intervals: [500] });
}
