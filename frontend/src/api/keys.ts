// The browser's API key. Pulse may require one (PULSE_API_KEYS / PULSE_BROWSER_KEYS); the
// bundle never contains a key: the user pastes one when the API answers 401, and it stays in
// this browser's localStorage.

const storageKey = 'pulse.key';
type Listener = () => void;
const listeners = new Set<Listener>();
let memory: string | null = null; // when localStorage is unavailable (private mode, tests)

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export function getKey(): string | null {
  return storage()?.getItem(storageKey) ?? memory;
}

export function setKey(key: string | null): void {
  const k = key?.trim() || null;
  memory = k;
  const s = storage();
  if (s) {
    if (k) s.setItem(storageKey, k);
    else s.removeItem(storageKey);
  }
  listeners.forEach((l) => l());
}

export function onKeyChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

// A 401 anywhere asks for a key once; the dialog listens here.
const wanted = new Set<Listener>();
export function requestKey(): void {
  wanted.forEach((l) => l());
}
export function onKeyRequested(l: Listener): () => void {
  wanted.add(l);
  return () => wanted.delete(l);
}
