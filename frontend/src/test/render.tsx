// A few lines of rendering for component tests (happy-dom + react-dom), instead of a testing
// library dependency.
import { act, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export async function render(ui: ReactNode) {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  await act(async () => root.render(ui));
  return {
    container,
    rerender: (next: ReactNode) => act(async () => root.render(next)),
    unmount: () => act(async () => root.unmount()).then(() => container.remove()),
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
