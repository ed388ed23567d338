// Wire types of the Pulse API (docs/frontend.md lists the endpoints the dashboard uses). They
// name the fields of the Go client's types (client/types.go): client/contract_test.go checks it.

/** Counts per window name ("1m", "5m", …) for one subject. */
export type WindowCounts = Record<string, number>;

export interface SubjectCounts {
  subject: string;
  counts: WindowCounts;
  /** Dashboards watching the subject now, on every live process (subscriptions with watch only). */
  watching?: number;
}

export interface TopEntry {
  subject: string;
  count: number;
}

/** GET /v1/windows */
export interface WindowsResponse {
  at: number;
  windows: string[];
  counts: Array<{ type: string; subject: string } & Record<string, number | string>>;
}

/** GET /v1/top */
export interface TopResponse {
  at: number;
  type: string;
  window: string;
  entries: TopEntry[];
}

/** What answered GET /v1/counts: the per-minute history, the archive (older ranges), or both. */
export type CountsSource = 'history' | 'archive' | 'both';

/** GET /v1/counts (series with step) */
export interface CountsResponse {
  type: string;
  subject?: string;
  from: number | string;
  to: number | string;
  count: number;
  series?: Array<{ t: number; count: number }>;
  source: CountsSource;
}

/** One event as the API takes it. */
export interface EventInput {
  id?: string;
  type: string;
  subject: string;
  time?: string | number;
  data?: Record<string, unknown>;
}

export type ItemStatus = 'accepted' | 'duplicate' | 'rejected' | 'failed';

export interface ItemResult {
  id?: string;
  status: ItemStatus;
  error?: { code: string; message: string; field?: string };
}

/** 202 of POST /v1/events and POST /v1/videos/{id}/likes (and the details of a 400 or 503) */
export interface IngestResponse {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** only in a 503: events Redis did not confirm */
  failed?: number;
  results: ItemResult[];
}

/** The fields a search hit's words can match. */
export type HighlightField = 'id' | 'type' | 'subject' | 'text';

/** A stored event, as search returns it. */
export interface StoredEvent {
  id: string;
  type: string;
  subject: string;
  time: number | string;
  received?: number | string;
  data?: unknown;
  /** Lowercase words of the query each field matched; text is the data values (failures: stage and reason). */
  highlights?: Partial<Record<HighlightField, string[]>>;
}

/** GET /v1/search */
export interface SearchResponse<H = StoredEvent> {
  hits: H[];
  total: number;
  facets?: Record<string, Record<string, number>>;
  took_ms?: number;
}

/** GET /v1/search/facets: the values of one facet that start with q, most frequent first. */
export interface FacetValuesResponse {
  facet: string;
  values: Array<{ value: string; count: number }>;
  took_ms?: number;
}

/** A failure record (GET /v1/failures, GET /v1/search/failures). */
export interface FailureRecord {
  id: string;
  stage: string;
  reason: string;
  at: number | string;
  stream?: string;
  entry_id?: string;
  record?: Record<string, unknown>;
  type?: string;
  subject?: string;
}

export interface GroupView {
  lag: number | null;
  pending: number;
  consumers: number;
  oldest_ms: number;
}

export interface RatePoint {
  t: number;
  ingest: number | null;
  counter: number | null;
  indexer: number | null;
  archiver: number | null;
  /** MQTT messages received per second, over every client */
  mqtt: number | null;
}

/** The archive's size as an archiver last listed it (PipelineView.archive). */
export interface ArchiveStats {
  files: number;
  bytes: number;
  /** unix ms start of the newest event hour; 0 when the archive is empty */
  newest_hour: number;
  /** unix ms of the listing */
  at: number;
}

/** One MQTT client's totals since its process started, as that process last wrote them (PipelineView.mqtt). */
export interface MQTTIntake {
  client: string;
  filter: string;
  /** false when the process reports no broker connection, or has not written for 30 s */
  connected: boolean;
  /** received, redeliveries included */
  messages: number;
  /** received with the DUP flag: the broker may have sent them before */
  redelivered: number;
  /** acknowledged: every event appended, a duplicate, or rejected and recorded */
  acked: number;
  /** refused as a whole (topic, body, no valid event), recorded as a failure and acknowledged */
  refused: number;
  /** appends that failed because Redis could not take them, tried again unacknowledged */
  retries: number;
  /** unix ms when the process wrote these totals */
  at: number;
}

/** GET /v1/pipeline */
export interface PipelineView {
  at: number;
  partitions: Array<{
    partition: number;
    stream: string;
    length: number;
    added: number;
    groups: Record<string, GroupView>;
  }>;
  groups: Record<string, GroupView>;
  length: number;
  failures: number;
  search_lag_ms: number;
  rates: { interval_ms: number; series: RatePoint[] };
  /** null until an archiver has listed the archive */
  archive: ArchiveStats | null;
  /** one entry per MQTT client heard from in the last hour; empty when the deployment takes no events from a broker */
  mqtt: MQTTIntake[];
}
