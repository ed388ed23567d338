import { useState } from 'react';
import { api, errorText } from '../../api/http';
import { num } from '../../lib/format';

interface ReplayResult {
  replayed?: Array<{ id: string }>;
  skipped?: Array<{ id: string; reason: string }>;
}

/** replayText says what a replay did: how many went back, and why the others stayed. */
export function replayText(r: ReplayResult): string {
  const n = r.replayed?.length ?? 0;
  let text = n ? `Replayed ${num(n)}: back in their partitions, counted once.` : 'Nothing was replayed.';
  const why = new Map<string, number>();
  for (const s of r.skipped ?? []) why.set(s.reason, (why.get(s.reason) ?? 0) + 1);
  for (const [reason, k] of why) text += ` ${num(k)} left in place (${reason.replaceAll('_', ' ')}).`;
  return text;
}

export function ReplayBar({ picked, onDone }: { picked: Set<string>; onDone(): void }) {
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const replay = async (body: { ids: string[] } | { all: true }) => {
    setBusy(true);
    setMsg(null);
    try {
      const r = await api<ReplayResult>('/v1/failures/replay', { body });
      setMsg({ ok: (r.replayed?.length ?? 0) > 0, text: replayText(r) });
      onDone();
    } catch (e) {
      setMsg({ ok: false, text: errorText(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="replay-bar">
      <button type="button" className="btn btn-small" disabled={busy || picked.size === 0} onClick={() => replay({ ids: [...picked] })}>
        Replay selected ({picked.size})
      </button>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        disabled={busy}
        onClick={() => confirm('Replay every failure in the failure stream?') && replay({ all: true })}
      >
        Replay all
      </button>
      {msg && (
        <span className={msg.ok ? 'ok-text small' : 'error-text small'} role="status">
          {msg.text}
        </span>
      )}
    </div>
  );
}
