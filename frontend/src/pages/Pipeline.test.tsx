// @vitest-environment happy-dom
import { afterEach, expect, test, vi } from 'vitest';
import type { GroupView, MQTTIntake, PipelineView } from '../api/types';
import { hour } from '../lib/format';
import { render } from '../test/render';
import { ArchivePanel, MQTTPanel, Pipeline } from './Pipeline';

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
});

const at = 1_750_000_000_000;
const newest = new Date(2025, 5, 15, 14).getTime(); // local 15 Jun 2025, 14:00

test('the archive panel says when no archiver has listed the archive yet', async () => {
  const { container } = await render(<ArchivePanel archive={null} now={at} />);
  expect(container.querySelector('#archive-title')?.textContent).toBe('Archive');
  expect(container.querySelector('p.muted')?.textContent).toBe('No archive listing yet');
  expect(container.querySelector('dl')).toBeNull();
  expect(container.querySelector('[data-listed]')).toBeNull();
});

test('the archive panel shows size, files, newest hour and how old the listing is', async () => {
  const archive = { files: 1234, bytes: 12_400_000, newest_hour: newest, at: at - 12_000 };
  const { container, rerender } = await render(<ArchivePanel archive={archive} now={at} />);
  const field = (k: string) => container.querySelector(`[data-archive="${k}"]`)?.textContent;
  expect(field('bytes')).toBe('12.4 MB');
  expect(field('files')).toBe('1,234');
  expect(field('newest')).toBe('15 Jun 2025, 14:00');
  expect(container.querySelector('[data-listed]')?.textContent).toBe('listed 12 s ago');
  expect(container.querySelector('[data-listed]')?.classList.contains('muted')).toBe(true);

  // An empty archive, listed long ago (no archiver running): flagged; a clock ahead of the server's: "just now".
  await rerender(<ArchivePanel archive={{ files: 0, bytes: 0, newest_hour: 0, at: at - 10 * 60_000 }} now={at} />);
  expect(field('bytes')).toBe('0 B');
  expect(field('newest')).toBe('empty');
  expect(container.querySelector('[data-listed]')?.textContent).toBe('listed 10 min ago');
  expect(container.querySelector('[data-listed]')?.classList.contains('h-warn')).toBe(true);
  await rerender(<ArchivePanel archive={{ ...archive, at: at + 3000 }} now={at} />);
  expect(container.querySelector('[data-listed]')?.textContent).toBe('listed just now');
});

const intake = (client: string, connected: boolean, seen: number): MQTTIntake => ({
  client,
  filter: 'pulse/events/#',
  connected,
  messages: 12_345,
  redelivered: 17,
  acked: 12_300,
  refused: 3,
  retries: 0,
  at: at - seen,
});

test('the MQTT panel says when the deployment takes no events from a broker', async () => {
  const { container } = await render(<MQTTPanel intakes={[]} now={at} />);
  expect(container.querySelector('#mqtt-title')?.textContent).toBe('MQTT intake');
  expect(container.querySelector('p.muted')?.textContent).toBe(
    'No MQTT intake: set PULSE_MQTT_URL to take events from a broker (docs/mqtt.md).',
  );
  expect(container.querySelector('table')).toBeNull();
});

test('the MQTT panel shows every client with its totals and whether it is connected', async () => {
  const intakes = [
    intake('pulse-a', true, 2000),
    { ...intake('pulse-b', false, 3 * 60_000), messages: 40, redelivered: 0, acked: 38, refused: 0, retries: 2 },
    intake('pulse-c', false, 1000),
  ];
  const { container } = await render(<MQTTPanel intakes={intakes} now={at} />);
  const table = container.querySelector('table')!;
  expect(table.getAttribute('aria-labelledby')).toBe('mqtt-title');
  expect([...table.querySelectorAll('thead th')].map((th) => th.textContent)).toEqual([
    'Client', 'State', 'Messages', 'Acked', 'Redelivered', 'Refused', 'Retries', 'Filter',
  ]);
  const row = (client: string) => table.querySelector(`tr[data-client="${client}"]`)!;
  const cells = (client: string) => [...row(client).querySelectorAll('th, td')].map((c) => c.textContent);

  expect(cells('pulse-a')).toEqual(['pulse-a', 'connected', '12,345', '12,300', '17', '3', '0', 'pulse/events/#']);
  expect(row('pulse-a').querySelector('td')?.classList.contains('h-ok')).toBe(true);
  expect(row('pulse-a').querySelectorAll('td')[4]?.classList.contains('h-warn')).toBe(true); // refused

  // Silent for minutes: its process stopped or lost Redis; the age says since when.
  expect(cells('pulse-b')).toEqual(['pulse-b', 'disconnected · last seen 3 min ago', '40', '38', '0', '0', '2', 'pulse/events/#']);
  expect(row('pulse-b').querySelector('td')?.classList.contains('h-bad')).toBe(true);
  expect(row('pulse-b').querySelectorAll('td')[5]?.classList.contains('h-warn')).toBe(true); // retries

  // Still writing, but without a broker connection.
  expect(cells('pulse-c')[1]).toBe('disconnected');
  expect(row('pulse-c').querySelector('td')?.classList.contains('h-warn')).toBe(true);
});

const group = (lag: number, pending: number, oldest_ms: number): GroupView => ({ lag, pending, consumers: 1, oldest_ms });

function view(archive: PipelineView['archive'], mqtt: MQTTIntake[] = []): PipelineView {
  const groups = { counter: group(0, 2, 0), indexer: group(1, 0, 500), archiver: group(3, 4567, 3 * 60_000) };
  return {
    at,
    partitions: [{ partition: 0, stream: 'pulse:events:0', length: 10, added: 99, groups }],
    groups,
    length: 10,
    failures: 0,
    search_lag_ms: 500,
    rates: {
      interval_ms: 5000,
      series: [
        { t: at - 5000, ingest: 10, counter: 10, indexer: 9, archiver: 0, mqtt: mqtt.length ? 3 : 0 },
        { t: at, ingest: 12, counter: 12, indexer: 12, archiver: 42, mqtt: mqtt.length ? 4 : 0 },
      ],
    },
    archive,
    mqtt,
  };
}

test('the pipeline page shows the archiver group, its rate and the archive', async () => {
  const fetch = vi.fn<(url: string) => Promise<Response>>(async () => new Response(JSON.stringify(view({ files: 3, bytes: 2048, newest_hour: newest, at: at - 30_000 })), { status: 200 }));
  vi.stubGlobal('fetch', fetch);
  const { container, unmount } = await render(<Pipeline />);
  await vi.waitFor(() => expect(container.querySelector('tr[data-partition]')).not.toBeNull());
  expect(fetch.mock.calls[0]![0]).toBe('/v1/pipeline');

  const stat = [...container.querySelectorAll('.stat')].find((s) => s.querySelector('.stat-label')?.textContent === 'Archiver commits')!;
  expect(stat.querySelector('.stat-value')?.textContent).toBe('42/s');
  expect(stat.querySelector('.stat-hint')?.textContent).toBe('lag 3 · pending 4,567 · oldest 3 min');
  // Minutes-old pending entries are how the archiver works (a roll at a time), not trouble.
  expect(stat.classList.contains('tone-ok')).toBe(true);

  expect([...container.querySelectorAll('.group-head')].map((h) => h.textContent)).toEqual(['Counter', 'Indexer', 'Archiver']);
  const cells = [...container.querySelectorAll('tr[data-partition="0"] td')].map((td) => td.textContent);
  expect(cells.slice(-3)).toEqual(['3', '4,567', '3 min']);
  expect(container.querySelector('.legend .key-archiver')?.textContent).toBe('archiver');

  expect(container.querySelector('[data-archive="bytes"]')?.textContent).toBe('2 kB');
  expect(container.querySelector('[data-archive="files"]')?.textContent).toBe('3');
  expect(container.querySelector('[data-listed]')?.textContent).toBe('listed 30 s ago');

  // No MQTT clients: no MQTT line, and the panel says how to take events from a broker.
  expect(container.querySelector('.legend .key-mqtt')).toBeNull();
  expect(ratesLabel(container)).not.toMatch(/MQTT/);
  expect(container.querySelector('section.mqtt p.muted')?.textContent).toMatch(/^No MQTT intake/);
  await unmount();
});

/** ratesLabel is the rates chart's accessible name: it names every line drawn. */
const ratesLabel = (c: Element) => c.querySelector('section[aria-labelledby="rates-title"] [role="img"]')?.getAttribute('aria-label');

test('the pipeline page shows MQTT clients and their rate', async () => {
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(view(null, [intake('pulse-a', true, 2000)])), { status: 200 })));
  const { container, unmount } = await render(<Pipeline />);
  await vi.waitFor(() => expect(container.querySelector('tr[data-client="pulse-a"]')).not.toBeNull());
  expect(container.querySelector('.legend .key-mqtt')?.textContent).toBe('MQTT in');
  expect(ratesLabel(container)).toMatch(/and MQTT messages received per second/);
  await unmount();
});

test('the pipeline page before any archive listing', async () => {
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(view(null)), { status: 200 })));
  const { container, unmount } = await render(<Pipeline />);
  await vi.waitFor(() => expect(container.querySelector('section.archive')).not.toBeNull());
  expect(container.querySelector('section.archive p.muted')?.textContent).toBe('No archive listing yet');
  await unmount();
});

test('hour is the local date and hour', () => {
  expect(hour(newest)).toBe('15 Jun 2025, 14:00');
  expect(hour(undefined)).toBe('—');
});
