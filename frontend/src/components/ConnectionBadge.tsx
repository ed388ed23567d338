import { useLive, useLiveStatus, useNow } from '../api/hooks';

const label = { idle: 'Offline', connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting' } as const;

/** ConnectionBadge shows the live connection's state, and lets the user skip the backoff wait. */
export function ConnectionBadge() {
  const live = useLive();
  const s = useLiveStatus();
  const now = useNow(1000, s.state === 'reconnecting');
  const wait = s.retryAt ? Math.max(0, Math.ceil((s.retryAt - now) / 1000)) : 0;
  return (
    <div className={`badge badge-${s.state}`} role="status" aria-live="polite" data-state={s.state}>
      <span className="dot" aria-hidden="true" />
      <span>
        {label[s.state]}
        {s.state === 'reconnecting' && wait > 0 && <span className="muted"> in {wait} s</span>}
      </span>
      {s.state === 'reconnecting' && (
        <button type="button" className="link-button" onClick={() => live.reconnectNow()}>
          Retry now
        </button>
      )}
    </div>
  );
}
