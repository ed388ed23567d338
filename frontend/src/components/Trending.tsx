import type { TopEntry } from '../api/types';
import { num } from '../lib/format';
import { Empty } from './Notice';

export function Trending(p: {
  entries: TopEntry[] | undefined;
  window: string;
  windows: string[];
  onWindow(w: string): void;
  titleOf(subject: string): string | undefined;
  error?: string | null;
}) {
  const max = Math.max(1, ...(p.entries ?? []).map((e) => e.count));
  return (
    <section className="panel trending" aria-labelledby="trending-title">
      <header className="panel-head">
        <h2 id="trending-title">Trending</h2>
        <div className="segmented" role="group" aria-label="Trending window">
          {p.windows.map((w) => (
            <button key={w} type="button" aria-pressed={w === p.window} onClick={() => p.onWindow(w)}>
              {w}
            </button>
          ))}
        </div>
      </header>
      {p.error && <p className="error-text small">{p.error}</p>}
      {p.entries === undefined ? (
        !p.error && <p className="muted small">Loading…</p>
      ) : p.entries.length === 0 ? (
        <Empty title={`No likes in the last ${p.window}`}>Click Like on a video or start a generator.</Empty>
      ) : (
        <ol className="top-list">
          {p.entries.map((e, i) => {
            const title = p.titleOf(e.subject);
            return (
              <li key={e.subject} data-subject={e.subject}>
                <span className="rank">{i + 1}</span>
                <span className="top-name">
                  <span className="top-title">{title ?? e.subject}</span>
                  {title && <code>{e.subject}</code>}
                  <span className="bar" style={{ transform: `scaleX(${e.count / max})` }} aria-hidden="true" />
                </span>
                <span className="top-count">{num(e.count)}</span>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
