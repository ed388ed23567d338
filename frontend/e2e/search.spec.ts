// The Search page: events found seconds after they were published (by word, by id, by prefix as
// you type, through a typo), matches highlighted, the detail panel, and the Failures tab's replay.
import type { Page } from '@playwright/test';
import { expect, note, publish, publishOnPage, search, searchIds, test, untilVisible, unique } from './fixtures';

const hit = (page: Page, id: string) => page.locator(`li.hit[data-id="${id}"]`);

/** answered waits for the page's own search request for q to be answered. */
const answered = (page: Page, q: string) =>
  page.waitForResponse((r) => r.url().includes('/v1/search') && new URL(r.url()).searchParams.get('q') === q, { timeout: 15_000 });

test('Search finds the event published in this test and shows its detail', async ({ page }) => {
  const word = unique('e2e');
  const id = `${word}-event`;
  await publishOnPage(page, { id, type: 'link_clicked', subject: 'https://example.com/e2e', data: { note: word, campaign: 'browser test' } });
  await page.getByRole('link', { name: 'Search' }).click();
  const t0 = Date.now();
  await search(page, word); // debounced into the URL
  await untilVisible(page, hit(page, id));
  note('published to found', `${Date.now() - t0} ms`);
  await hit(page, id).locator('.hit-main').click();
  await expect(page.locator('aside.detail pre').filter({ hasText: word })).toBeVisible();
});

test('Failures tab lists the rejected item; replay says why it stays', async ({ page, request }) => {
  // A batch with one invalid item, both carrying a word of their own: the failure history finds
  // the rejected one by the words of its body.
  const word = unique('e2efail');
  const results = await publish(request, [
    { id: `${word}-1`, type: 'link_clicked', subject: 'https://example.com/e2e', data: { note: word } },
    { id: `${word}-invalid`, type: 'Not A Valid Type', subject: 'https://example.com/e2e', data: { note: word } },
  ]);
  expect(results.map((r) => r.status)).toEqual(['accepted', 'rejected']);
  await page.goto('/search');
  await search(page, word);
  await page.getByRole('tab', { name: 'Failures' }).click();
  const row = page.locator('li.hit').filter({ hasText: 'Not A Valid Type' }).first();
  await untilVisible(page, row);
  await row.locator('input[type="checkbox"]').check();
  await page.getByRole('button', { name: 'Replay selected (1)' }).click();
  const msg = page.locator('.replay-bar [role="status"]');
  await expect(msg).toContainText('left in place');
  note('replay', (await msg.textContent()) ?? '');
  await page.getByRole('tab', { name: 'Events' }).click();
  await expect(page.getByRole('tab', { name: 'Events' })).toHaveAttribute('aria-selected', 'true');
});

test('an event published on the Publish page is found by its id, and id:<id> finds exactly it', async ({ page, request }) => {
  const id = unique('e2e-id-');
  await publishOnPage(page, { id, type: 'session_started', subject: 'user-e2e', data: { device: 'browser test' } });
  await page.getByRole('link', { name: 'Search' }).click();
  await search(page, id);
  await untilVisible(page, hit(page, id));

  const q = `id:${id}`;
  const done = answered(page, q);
  await search(page, q);
  await done;
  await expect(page.locator('li.hit')).toHaveCount(1);
  await expect(page.locator('li.hit')).toHaveAttribute('data-id', id);
  expect(await searchIds(request, q), `GET /v1/search?q=${q}`).toEqual([id]);
});

test('result rows highlight the matched word with <mark>', async ({ page, request }) => {
  const word = unique('e2emark');
  const id = `${word}-event`;
  await publish(request, [{ id, type: 'link_clicked', subject: 'https://example.com/e2e', data: { note: `found by ${word} here` } }]);
  await page.goto('/search');
  await search(page, word);
  await untilVisible(page, hit(page, id));
  await expect(hit(page, id).locator('mark').filter({ hasText: new RegExp(word, 'i') }).first()).toBeVisible();

  const res = await request.get('/v1/search', { params: { q: word } });
  const hits = ((await res.json()) as { hits: Array<{ id: string; highlights?: unknown }> }).hits;
  expect(hits.find((h) => h.id === id)?.highlights, 'the API hit carries highlights').toBeTruthy();
  note('highlights', JSON.stringify(hits.find((h) => h.id === id)?.highlights).slice(0, 200));
});

test('prefix search as you type: "vid" finds video-… subjects without Enter', async ({ page, request }) => {
  const subject = unique('video-e2e');
  await publish(request, [{ id: `${subject}-event`, type: 'e2e_prefix', subject }]);
  await expect.poll(() => searchIds(request, subject), { timeout: 20_000 }).toContain(`${subject}-event`); // indexed
  await page.goto('/search');
  const asked = answered(page, 'vid');
  await search(page, 'vid', { type: true }); // typed key by key, never Enter
  await asked;
  const videos = page.locator('li.hit').filter({ has: page.locator('.hit-subject', { hasText: /^video-/ }) });
  await untilVisible(page, videos);
  note('hits for vid', `${await page.locator('li.hit').count()} shown, ${await videos.count()} with a video-… subject`);
});

test('typos: "pancakez" finds delicious pancakes, but neither "kitchem" (subject kitchen-42) nor a typo in its id finds it', async ({ page, request }) => {
  const id = unique('e2e-typo-');
  await publish(request, [{ id, type: 'e2e_typo', subject: 'kitchen-42', data: { title: 'delicious pancakes' } }]);
  await expect.poll(() => searchIds(request, 'kitchen-42'), { timeout: 20_000 }).toContain(id); // indexed

  await page.goto('/search');
  await search(page, 'pancakez');
  await untilVisible(page, hit(page, id));
  expect(await searchIds(request, 'pancakez'), 'GET /v1/search?q=pancakez').toContain(id);

  const done = answered(page, 'kitchem');
  await search(page, 'kitchem');
  await done;
  await expect(page.locator('section.results')).toHaveAttribute('aria-busy', 'false');
  await expect(hit(page, id)).toHaveCount(0);
  expect(await searchIds(request, 'kitchem'), 'GET /v1/search?q=kitchem (no typos on subjects)').not.toContain(id);

  // The id's own last word, found as typed, and not with its last character changed.
  const word = id.split('-').at(-1)!;
  const typo = word.slice(0, -1) + (word.endsWith('x') ? 'y' : 'x');
  expect(await searchIds(request, word), `GET /v1/search?q=${word} (a word of the id)`).toContain(id);
  const typed = answered(page, typo);
  await search(page, typo);
  await typed;
  await expect(page.locator('section.results')).toHaveAttribute('aria-busy', 'false');
  await expect(hit(page, id)).toHaveCount(0);
  expect(await searchIds(request, typo), `GET /v1/search?q=${typo} (no typos on ids)`).not.toContain(id);
});
