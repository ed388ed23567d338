// @vitest-environment happy-dom
import { afterEach, expect, test, vi } from 'vitest';
import { byText, click, render, type } from '../test/render';
import { batchOf, INVALID_TYPE, Publish } from './Publish';

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
});

test('batchOf copies the event with suffixed ids and puts one invalid item in the middle', () => {
  const b = batchOf({ id: 'e', type: 't', subject: 's' }, 4, true);
  expect(b.map((x) => x.id)).toEqual(['e-1', 'e-2', 'e-invalid', 'e-3', 'e-4']);
  expect(b[2]!.type).toBe(INVALID_TYPE);
  expect(batchOf({ type: 't', subject: 's' }, 2, false)).toEqual([{ type: 't', subject: 's' }, { type: 't', subject: 's' }]);
});

test('the editor shows validation errors inline and only valid events can be published', async () => {
  const { container } = await render(<Publish />);
  const editor = container.querySelector('textarea.editor')!;
  const publish = () => byText(container, 'button', 'Publish') as HTMLButtonElement;
  expect(container.querySelector('.field-ok')?.textContent).toBe('Valid event');
  expect(publish().disabled).toBe(false);

  await type(editor, '{"type": "Bad Type", "subject": ""}');
  const errs = [...container.querySelectorAll('.field-error')].map((e) => e.getAttribute('data-field'));
  expect(errs).toEqual(['type', 'subject']);
  expect(editor.getAttribute('aria-invalid')).toBe('true');
  expect(publish().disabled).toBe(true);

  await type(editor, '{"type": "x",\n "subject": }');
  expect(container.querySelector('[data-field="json"]')?.textContent).toMatch(/line 2/);
});

test('publish all sends one batch and shows a receipt per item, rejections with their reason', async () => {
  const fetch = vi.fn(async (_url: string, init: RequestInit) => {
    const items = JSON.parse(String(init.body)) as Array<{ type: string; id?: string }>;
    const results = items.map((e) =>
      e.type === INVALID_TYPE ? { status: 'rejected', error: { code: 'invalid_type', message: 'type must match' } } : { id: e.id, status: 'accepted' },
    );
    return new Response(JSON.stringify({ accepted: items.length - 1, duplicates: 0, rejected: 1, results }), { status: 202 });
  });
  vi.stubGlobal('fetch', fetch);
  const { container } = await render(<Publish />);
  await type(container.querySelector('.bulk input[type="number"]'), '3');
  await click(byText(container, 'button', /^Publish all/));
  await vi.waitFor(() => expect(container.querySelectorAll('.receipts tbody tr')).toHaveLength(4));
  expect(fetch).toHaveBeenCalledTimes(1);
  expect(fetch.mock.calls[0]![0]).toBe('/v1/events');
  const rejected = container.querySelector('tr[data-status="rejected"]');
  expect(rejected?.textContent).toContain('invalid_type');
  expect(container.querySelector('.summary')?.textContent).toBe('3 accepted0 duplicate1 rejected');
});
