import type { ReactNode } from 'react';
import { ApiError, errorText } from '../api/http';

/** ErrorNotice explains a failed call in words a user can act on, with a retry. */
export function ErrorNotice({ error, onRetry, what }: { error: unknown; onRetry?: () => void; what?: string }) {
  let title = what ? `Could not load ${what}` : 'Something went wrong';
  let hint: ReactNode = null;
  if (error instanceof ApiError) {
    if (error.status === 0) {
      title = 'The Pulse API cannot be reached';
      hint = 'Is the server running? This page retries on its own.';
    } else if (error.code === 'redis_unavailable' || (error.status === 503 && /redis/i.test(error.message))) {
      title = 'Redis is unreachable';
      hint = 'Pulse keeps retrying and recovers by itself once Redis is back.';
    } else if (error.status === 503) {
      title = 'Pulse is busy or starting';
      hint = error.retryAfter ? `Try again in ${error.retryAfter} s.` : 'Try again in a moment.';
    } else if (error.status === 404) {
      title = 'This Pulse does not offer that yet';
      hint = 'The role serving it may not run in this process.';
    }
  }
  return (
    <div className="notice notice-error" role="alert">
      <div>
        <strong>{title}</strong>
        <p>{errorText(error)}</p>
        {hint && <p className="muted">{hint}</p>}
      </div>
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <strong>{title}</strong>
      {children && <p>{children}</p>}
    </div>
  );
}
