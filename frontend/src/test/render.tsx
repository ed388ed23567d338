// A few lines of rendering for component tests (happy-dom + react-dom), instead of a testing
// library dependency.
import { notifyManager, QueryClientProvider } from '@tanstack/react-query';
import { act, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { afterEach } from 'vitest';
import { LiveContext } from '../api/hooks';
import type { LiveClient } from '../api/live';
import { createQueryClient } from '../api/query';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
// Query results reach components inside act, as React wants in tests, and within the act that
// caused them (a microtask, not the next macrotask).
notifyManager.setScheduler(queueMicrotask);
notifyManager.setNotifyFunction((fn) => act(fn));

/** testQueryClient is the app's query client without retries, so a failure shows at once. */
export function testQueryClient() {
  const client = createQueryClient();
  client.setDefaultOptions({ queries: { ...client.getDefaultOptions().queries, retry: false } });
  return client;
}

// Roots still mounted, unmounted after each test: a render React had scheduled outside act
// (a fetch answered, the scheduler yielding on a busy machine) would otherwise run after the
// file's DOM environment is gone and fail the run with "window is not defined".
const mounted = new Set<() => Promise<void>>();

afterEach(async () => {
  for (const unmount of mounted) await unmount();
  // Let a scheduler task queued before the unmount find nothing left to do while the DOM exists.
  await new Promise((resolve) => setTimeout(resolve, 0));
});

/** render mounts ui with a fresh query cache, and live as the live client when given. */
export async function render(ui: ReactNode, opts: { live?: LiveClient } = {}) {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  const client = testQueryClient();
  const wrap = (node: ReactNode) => (
    <QueryClientProvider client={client}>
      <LiveContext.Provider value={opts.live ?? null}>{node}</LiveContext.Provider>
    </QueryClientProvider>
  );
  const unmount = async () => {
    if (!mounted.delete(unmount)) return;
    await act(async () => root.unmount());
    container.remove();
  };
  mounted.add(unmount);
  await act(async () => root.render(wrap(ui)));
  return {
    container,
    client,
    rerender: (next: ReactNode) => act(async () => root.render(wrap(next))),
    unmount,
  };
}

export async function click(el: Element | null) {
  if (!el) throw new Error('no element to click');
  await act(async () => (el as HTMLElement).click());
}

/** type sets an input's or textarea's value the way a user does, so React sees the change. */
export async function type(el: Element | null, value: string) {
  if (!el) throw new Error('no element to type into');
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

export function byText(root: ParentNode, selector: string, text: string | RegExp): HTMLElement | null {
  return ([...root.querySelectorAll(selector)] as HTMLElement[]).find((e) => (typeof text === 'string' ? e.textContent?.trim() === text : text.test(e.textContent ?? ''))) ?? null;
}
