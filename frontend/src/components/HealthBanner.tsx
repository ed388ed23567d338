import { useQuery } from '@tanstack/react-query';
import { keys } from '../api/query';

interface Ready {
  ok: boolean;
  code?: string;
  message?: string;
}

/** readiness reads /readyz: ready, or why not (Redis down, starting, shutting down). */
async function readiness(signal: AbortSignal): Promise<Ready> {
  const res = await fetch('/readyz', { signal, headers: { Accept: 'application/json' } });
  if (res.ok) return { ok: true };
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  return { ok: false, code: body?.error?.code, message: body?.error?.message };
}

/**
 * HealthBanner tells, on every page, when Pulse cannot do its work: the API is unreachable or
 * Redis is down. A WebSocket can stay open meanwhile, so the live badge alone would not say.
 */
export function HealthBanner() {
  // No retries: the next poll is the retry, and the banner should say at once that the API is gone.
  const h = useQuery({ queryKey: keys.ready, queryFn: ({ signal }) => readiness(signal), refetchInterval: 5000, retry: false });
  let text: string | null = null;
  if (h.error !== null) text = 'The Pulse API cannot be reached. This page keeps trying; counts shown may be stale.';
  else if (h.data && !h.data.ok) {
    text =
      h.data.code === 'redis_unavailable'
        ? 'Redis is unreachable: counts shown may be stale and new events are refused. Pulse recovers by itself when Redis is back.'
        : `Pulse is not ready: ${h.data.message ?? 'starting or shutting down'}.`;
  }
  if (!text) return null;
  return (
    <div className="health" role="status">
      <span className="dot" aria-hidden="true" />
      {text}
    </div>
  );
}
