import { afterEach, expect, test, vi } from 'vitest';
import { ApiError, api, errorText } from './http';

afterEach(() => vi.unstubAllGlobals());

/** calls stubs fetch with a 202 and returns what each call sent. */
function calls() {
  const sent: Array<{ url: string; init: RequestInit }> = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      sent.push({ url, init });
      return new Response(JSON.stringify({ accepted: 1 }), { status: 202 });
    }),
  );
  return sent;
}

test('every write declares JSON, a bodiless like included; reads declare nothing', async () => {
  const sent = calls();
  await api('/v1/videos/v1/likes', { method: 'POST' });
  await api('/v1/events', { body: [{ type: 'video_liked', subject: 'v1' }] });
  await api('/v1/windows', { query: { type: 'video_liked', subject: ['v1'] } });
  const ct = (i: number) => (sent[i]!.init.headers as Record<string, string>)['Content-Type'];
  expect(sent[0]).toMatchObject({ url: '/v1/videos/v1/likes', init: { method: 'POST', body: undefined } });
  expect(ct(0)).toBe('application/json');
  expect(sent[1]!.init.method).toBe('POST');
  expect(ct(1)).toBe('application/json');
  expect(sent[2]!.init.method).toBe('GET');
  expect(ct(2)).toBeUndefined();
});

test('a 403 for a key that may not do it asks for a full key; other 403s say what the API said', () => {
  expect(errorText(new ApiError(403, 'forbidden', 'this key may not do that'))).toMatch(/needs a full API key/);
  expect(errorText(new ApiError(403, 'origin_not_allowed', 'a POST request from origin "x" is not allowed'))).toBe(
    'a POST request from origin "x" is not allowed',
  );
});
