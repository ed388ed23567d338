import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useKey } from '../api/hooks';
import { onKeyRequested, setKey } from '../api/keys';

/**
 * KeyDialog asks for an API key when the API answers 401, or when the header button is used.
 * The key stays in this browser only (localStorage); the dashboard needs a browser key
 * (PULSE_BROWSER_KEYS: read and send events) or a full key (also the failure stream: list,
 * search and replay).
 */
export function KeyDialog() {
  const ref = useRef<HTMLDialogElement>(null);
  const key = useKey();
  const [draft, setDraft] = useState('');
  const [asked, setAsked] = useState(false);

  const open = (fromAPI: boolean) => {
    setAsked(fromAPI);
    setDraft('');
    const d = ref.current;
    if (d && !d.open) d.showModal?.();
  };

  useEffect(() => onKeyRequested(() => open(true)), []);
  useEffect(() => {
    const h = () => open(false);
    window.addEventListener('pulse:key', h);
    return () => window.removeEventListener('pulse:key', h);
  }, []);

  const save = (e: FormEvent) => {
    e.preventDefault();
    setKey(draft);
    ref.current?.close();
  };

  return (
    <dialog ref={ref} className="dialog" aria-labelledby="key-title">
      <form onSubmit={save}>
        <h2 id="key-title">{asked ? 'This Pulse needs an API key' : 'API key'}</h2>
        <p className="muted">
          Paste a browser key (<code>PULSE_BROWSER_KEYS</code>: read and send events) or a full key (also lists,
          searches and replays failures). It is kept in this browser only and sent as <code>Authorization: Bearer</code>.
        </p>
        <label className="field">
          <span>Key</span>
          <input
            type="password"
            autoComplete="off"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder={key ? 'a key is set — paste a new one to replace it' : 'paste your key'}
            autoFocus
          />
        </label>
        <div className="row end">
          {key && (
            <button
              type="button"
              className="btn btn-ghost"
              onClick={() => {
                setKey(null);
                ref.current?.close();
              }}
            >
              Forget key
            </button>
          )}
          <button type="button" className="btn btn-ghost" onClick={() => ref.current?.close()}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={!draft.trim()}>
            Save key
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function KeyButton() {
  const key = useKey();
  return (
    <button
      type="button"
      className="btn btn-ghost btn-small key-button"
      onClick={() => window.dispatchEvent(new Event('pulse:key'))}
      title={key ? 'An API key is set' : 'Set an API key'}
    >
      <svg aria-hidden="true" viewBox="0 0 24 24" width="16" height="16">
        <path
          fill="currentColor"
          d="M7 14a2 2 0 1 1 0-4 2 2 0 0 1 0 4Zm5.65-4A6 6 0 1 0 12.65 14H16v3h3v-3h2v-4h-8.35Z"
        />
      </svg>
      <span>{key ? 'Key set' : 'Key'}</span>
    </button>
  );
}
