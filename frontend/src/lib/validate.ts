// Client-side checks of one event, mirroring the server's rules (shared/design.md, "Event"),
// so the Publish page can point at the field before anything is sent. The server stays the
// judge: its answer is shown per item whatever these say.

export interface FieldError {
  field: string;
  message: string;
}

export const MAX_FUTURE_MS = 5 * 60_000;
const idRe = /^[A-Za-z0-9._:-]{1,128}$/;
const typeRe = /^[a-z][a-z0-9_.-]{0,63}$/;
// RFC 3339: date, 'T', time, optional fraction, and a zone.
const rfc3339Re = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const minMillis = Date.UTC(2000, 0, 1);
const controlRe = /\p{Cc}/u;

export function isValidType(t: string): boolean {
  return typeRe.test(t);
}

export function isValidId(id: string): boolean {
  return idRe.test(id);
}

/** validateEvent lists what the server would reject in v, at client time nowMs. */
export function validateEvent(v: unknown, nowMs: number, maxFutureMs = MAX_FUTURE_MS): FieldError[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return [{ field: '', message: 'An event is a JSON object: {"type": …, "subject": …}' }];
  }
  const e = v as Record<string, unknown>;
  const errs: FieldError[] = [];
  if (e.id !== undefined && (typeof e.id !== 'string' || !idRe.test(e.id))) {
    errs.push({ field: 'id', message: 'id must be 1–128 characters of A–Z a–z 0–9 . _ : -' });
  }
  if (e.type === undefined || e.type === '') errs.push({ field: 'type', message: 'type is required' });
  else if (typeof e.type !== 'string' || !typeRe.test(e.type)) {
    errs.push({ field: 'type', message: 'type must be lower case, start with a letter, and use a–z 0–9 _ . - (at most 64)' });
  }
  if (e.subject === undefined || e.subject === '') errs.push({ field: 'subject', message: 'subject is required' });
  else if (typeof e.subject !== 'string') errs.push({ field: 'subject', message: 'subject must be a string' });
  else if ([...e.subject].length > 128) errs.push({ field: 'subject', message: 'subject is longer than 128 characters' });
  else if (controlRe.test(e.subject)) errs.push({ field: 'subject', message: 'subject must not contain control characters' });
  if (e.time !== undefined && e.time !== null) {
    const ms = eventTime(e.time);
    if (ms === null) {
      errs.push({ field: 'time', message: 'time must be an RFC 3339 string (2025-01-31T12:00:00Z) or unix milliseconds' });
    } else if (ms < minMillis) {
      errs.push({ field: 'time', message: 'time is before the year 2000: unix seconds instead of milliseconds?' });
    } else if (ms > nowMs + maxFutureMs) {
      errs.push({ field: 'time', message: `time is more than ${maxFutureMs / 60_000} minutes in the future` });
    }
  }
  if (e.data !== undefined && e.data !== null) {
    if (typeof e.data !== 'object' || Array.isArray(e.data)) {
      errs.push({ field: 'data', message: 'data must be a JSON object' });
    } else if (new TextEncoder().encode(JSON.stringify(e.data)).length > 32 * 1024) {
      errs.push({ field: 'data', message: 'data is larger than 32 KiB' });
    }
  }
  return errs;
}

/** eventTime reads an event time (RFC 3339 string or integer ms); null if malformed. */
export function eventTime(t: unknown): number | null {
  if (typeof t === 'number') return Number.isInteger(t) ? t : null;
  if (typeof t === 'string' && rfc3339Re.test(t)) {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

export interface ParseResult {
  value?: unknown;
  error?: { message: string; line?: number; column?: number };
}

/** parseJSON parses text and, on a syntax error, says where (line and column, 1-based). */
export function parseJSON(text: string): ParseResult {
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (text.trim() === '') return { error: { message: 'The editor is empty' } };
    const at = errorOffset(text, message);
    const lines = text.slice(0, at).split('\n');
    return { error: { message, line: lines.length, column: lines[lines.length - 1]!.length + 1 } };
  }
}

/**
 * errorOffset finds where a JSON syntax error is. Engines differ in whether the message says
 * ("at position 12", or nothing at all), so without one it searches for the shortest prefix
 * that is no longer the start of some valid JSON text.
 */
function errorOffset(text: string, message: string): number {
  const pos = /position (\d+)/.exec(message);
  if (pos) return Math.min(Number(pos[1]), text.length);
  const viable = (prefix: string): boolean => {
    try {
      JSON.parse(prefix);
      return true;
    } catch (e) {
      const m = e instanceof Error ? e.message : '';
      if (/end of JSON input/.test(m)) return true;
      const p = /position (\d+)/.exec(m);
      return p !== null && Number(p[1]) >= prefix.length;
    }
  };
  let lo = 0; // text.slice(0, lo) is viable
  let hi = text.length; // text.slice(0, hi) is not
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (viable(text.slice(0, mid))) lo = mid;
    else hi = mid;
  }
  return lo;
}
