const nf = new Intl.NumberFormat('en-US');
const nf1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function num(n: number | null | undefined): string {
  return n === null || n === undefined || Number.isNaN(n) ? '—' : nf.format(n);
}

export function rate(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : `${nf1.format(n)}/s`;
}

/** duration formats a span in ms for people: "0 s", "850 ms", "12 s", "3 min 5 s", "2 h 10 min". */
export function duration(ms: number): string {
  if (ms <= 0) return '0 s';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

export function toMillis(t: number | string | undefined): number | null {
  if (t === undefined) return null;
  if (typeof t === 'number') return t;
  const n = Number(t);
  if (Number.isFinite(n)) return n;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

/** ago says how long before now t was ("just now", "12 s ago", "3 min ago", else the date). */
export function ago(t: number | string | undefined, now = Date.now()): string {
  const ms = toMillis(t);
  if (ms === null) return '—';
  const d = now - ms;
  if (d < 0) return `in ${duration(-d)}`;
  if (d < 5_000) return 'just now';
  if (d < 3_600_000) return `${duration(Math.round(d / 1000) * 1000).replace(/ \d+ s$/, '')} ago`;
  return dateTime(ms);
}

export function dateTime(t: number | string | undefined): string {
  const ms = toMillis(t);
  if (ms === null) return '—';
  return new Date(ms).toLocaleString('en-GB', {
    year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

const BYTE_UNITS = ['kB', 'MB', 'GB', 'TB', 'PB'];

/** bytes formats a size for people, in decimal units: "512 B", "12.4 MB", "1.2 GB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (Math.abs(n) < 1000) return `${Math.round(n)} B`;
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (Math.abs(v) >= 999.95 && u < BYTE_UNITS.length - 1);
  return `${nf1.format(v)} ${BYTE_UNITS[u]}`;
}

/** hour formats the start of an hour in local time: "12 Mar 2025, 14:00". */
export function hour(t: number | string | undefined): string {
  const ms = toMillis(t);
  if (ms === null) return '—';
  return new Date(ms).toLocaleString('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}
