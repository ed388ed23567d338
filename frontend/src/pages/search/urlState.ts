// The search state lives in the URL, so a search can be shared and survives a reload.
import { navigate } from '../../router';

export const PAGE = 20;
export const MAX_OFFSET = 100_000;

export const RANGES: Array<{ key: string; label: string; ms?: number }> = [
  { key: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { key: '1h', label: 'Last hour', ms: 3_600_000 },
  { key: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { key: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { key: 'all', label: 'All time' },
  { key: 'custom', label: 'Custom…' },
];

export interface SearchState {
  tab: 'events' | 'failures';
  q: string;
  types: string[];
  stages: string[];
  subject: string;
  range: string;
  from: string; // datetime-local, for custom
  to: string;
  sort: 'time:desc' | 'time:asc';
  offset: number;
}

export function readState(search: string): SearchState {
  const p = new URLSearchParams(search);
  return {
    tab: p.get('tab') === 'failures' ? 'failures' : 'events',
    q: p.get('q') ?? '',
    types: p.getAll('type'),
    stages: p.getAll('stage'),
    subject: p.get('subject') ?? '',
    range: RANGES.some((r) => r.key === p.get('range')) ? p.get('range')! : 'all',
    from: p.get('from') ?? '',
    to: p.get('to') ?? '',
    sort: p.get('sort') === 'time:asc' ? 'time:asc' : 'time:desc',
    offset: Math.min(MAX_OFFSET, Math.max(0, Number(p.get('offset')) || 0)),
  };
}

export function writeState(s: SearchState): string {
  const p = new URLSearchParams();
  if (s.tab !== 'events') p.set('tab', s.tab);
  if (s.q) p.set('q', s.q);
  s.types.forEach((t) => p.append('type', t));
  s.stages.forEach((t) => p.append('stage', t));
  if (s.subject) p.set('subject', s.subject);
  if (s.range !== 'all') p.set('range', s.range);
  if (s.range === 'custom') {
    if (s.from) p.set('from', s.from);
    if (s.to) p.set('to', s.to);
  }
  if (s.sort !== 'time:desc') p.set('sort', s.sort);
  if (s.offset) p.set('offset', String(s.offset));
  const q = p.toString();
  return q ? `?${q}` : '';
}

/**
 * updateSearch changes the search in place (no history entry) and goes back to its first page.
 * It reads the URL when called, not when scheduled: a debounced query must not undo a subject
 * typed meanwhile.
 */
export function updateSearch(patch: Partial<SearchState>): void {
  navigate(`/search${writeState({ ...readState(location.search), offset: 0, ...patch })}`, true);
}

/** switchTab opens the other tab as a new history entry, with the stage filter cleared. */
export function switchTab(tab: SearchState['tab']): void {
  navigate(`/search${writeState({ ...readState(location.search), tab, offset: 0, stages: [] })}`);
}

/** queryOf turns the state into /v1/search parameters, at time now. */
export function queryOf(s: SearchState, now: number): Record<string, string | number | string[] | undefined> {
  const r = RANGES.find((x) => x.key === s.range);
  let from: string | number | undefined;
  let to: string | number | undefined;
  if (r?.ms) from = now - r.ms;
  if (s.range === 'custom') {
    from = s.from ? new Date(s.from).getTime() || undefined : undefined;
    to = s.to ? new Date(s.to).getTime() || undefined : undefined;
  }
  return {
    q: s.q.trim() || undefined,
    type: s.types,
    stage: s.tab === 'failures' ? s.stages : undefined,
    subject: s.subject.trim() || undefined,
    from,
    to,
    sort: s.sort,
    limit: PAGE,
    offset: s.offset,
  };
}

/**
 * streamMode: failures without any filter list the failure stream itself, exactly what can be
 * replayed; any filter searches the failure history, which keeps records already replayed.
 */
export function streamMode(s: SearchState): boolean {
  return s.tab === 'failures' && !s.q && !s.subject && !s.types.length && !s.stages.length && s.range === 'all';
}

/** toggle adds v to list, or removes it when there. */
export function toggle(list: string[], v: string): string[] {
  return list.includes(v) ? list.filter((x) => x !== v) : [...list, v];
}
