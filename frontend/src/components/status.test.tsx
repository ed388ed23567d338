// @vitest-environment happy-dom
import { act } from 'react';
import { afterEach, expect, test, vi } from 'vitest';
import { LiveContext } from '../api/hooks';
import { LiveClient, type SocketLike } from '../api/live';
import { byText, click, render } from '../test/render';
import { ConnectionBadge } from './ConnectionBadge';
import { HealthBanner } from './HealthBanner';

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
});

test('the connection badge follows the live client and can skip the backoff', async () => {
  const sockets: SocketLike[] = [];
  const client = new LiveClient({
    url: () => 'ws://x/v1/live',
    socket: () => {
      const s = { readyState: 0, onopen: null, onclose: null, onerror: null, onmessage: null, send() {}, close() {} } as SocketLike;
      sockets.push(s);
      return s;
    },
    random: () => 1,
    setTimer: () => 1,
    clearTimer: () => {},
  });
  const { container } = await render(
    <LiveContext.Provider value={client}>
      <ConnectionBadge />
    </LiveContext.Provider>,
  );
  const badge = () => container.querySelector('.badge')!;
  expect(badge().getAttribute('data-state')).toBe('idle');
  await act(async () => client.start());
  expect(badge().textContent).toBe('Connecting…');
  await act(async () => {
    (sockets[0] as { readyState: number }).readyState = 1;
    sockets[0]!.onopen?.({});
  });
  expect(badge().textContent).toBe('Live');
  await act(async () => sockets[0]!.onclose?.({ code: 1006, reason: '' }));
  expect(badge().getAttribute('data-state')).toBe('reconnecting');
  expect(badge().textContent).toMatch(/^Reconnecting in 1 sRetry now$/);
  await click(byText(container, 'button', 'Retry now'));
  expect(sockets).toHaveLength(2);
});

test.each([
  [{ status: 200, body: { status: 'ready' } }, null],
  [{ status: 503, body: { error: { code: 'redis_unavailable', message: 'redis is unreachable' } } }, /Redis is unreachable/],
  [{ status: 503, body: { error: { code: 'not_ready', message: 'starting or shutting down' } } }, /Pulse is not ready: starting/],
  [null, /cannot be reached/],
])('the health banner reads /readyz: %j', async (answer, want) => {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => {
      if (!answer) throw new TypeError('Failed to fetch');
      return new Response(JSON.stringify(answer.body), { status: answer.status });
    }),
  );
  const { container } = await render(<HealthBanner />);
  await vi.waitFor(() => {
    const text = container.querySelector('.health')?.textContent ?? null;
    if (want === null) expect(text).toBeNull();
    else expect(text).toMatch(want);
  });
});
