import type { TokenCredential } from '@azure/core-auth';
import { AggregateLogsUploadError, LogsIngestionClient } from '@azure/monitor-ingestion';
import type { KeyValueStore } from '../alerts/ledger.js';
import { ipv6LiteralAgent } from '../collect/clients.js';
import { describeError } from '../collect/resourceGraph.js';
import { newStats, type ThrottleOptions, throttlingPolicy } from '../collect/throttle.js';
import { printableUrl } from '../config/endpoints.js';
import type { Finding } from '../domain/rule.js';
import type { FindingSource } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import { FINDINGS_TABLE, findingRow, SCANS_TABLE, scanRow } from './tables.js';

/**
 * Findings and scan summaries to Log Analytics through the Logs Ingestion API (AZURE-FACTS.md, "Logs
 * Ingestion API"; `@azure/monitor-ingestion` `LogsIngestionClient.upload`, which gzips and splits
 * into 1 MB calls and reports the rows of each failed call).
 *
 * The export runs after the Blob commit and never fails it. What arrived is kept in a ledger
 * (`exports/{scanId}.json` in the audit container or the output directory): per stream the rows of
 * the scan and the index ranges that did not arrive. A later attempt (the next run, or
 * `perimeter-auditor export logs --scan ID`) rebuilds the rows in the same order from the stored
 * findings and sends only those ranges, so no row is sent twice by us; every row carries `ScanId`, so
 * a query can de-duplicate what the service itself may repeat.
 */

/** Token audiences of the Logs Ingestion API per cloud (the scope is `{audience}/.default`). */
export const INGESTION_AUDIENCES = {
  AzureCloud: 'https://monitor.azure.com',
  AzureUSGovernment: 'https://monitor.azure.us',
  AzureChinaCloud: 'https://monitor.azure.cn',
} as const;

/** Rows handed to one `upload` call (count); the SDK splits them further into 1 MB calls. */
const ROWS_PER_UPLOAD = 5000;

/** Sends rows to one data collection rule. */
export interface LogsUploader {
  /** `{endpoint}` and the rule, printable (no query, no credentials). */
  readonly destination: { readonly endpoint: string; readonly dcrImmutableId: string };
  /**
   * Uploads `rows` to `stream`.
   * @returns the indexes (into `rows`) that did not arrive, and why, in words; never throws for a refused call
   */
  upload(stream: string, rows: readonly Record<string, unknown>[]): Promise<{ failed: number[]; reasons: string[] }>;
}

/**
 * A `LogsUploader` on `@azure/monitor-ingestion`, paced and retried by the project's policy (429
 * with or without `Retry-After`, 5xx, resets), like every other client.
 */
export function createLogsUploader(o: {
  endpoint: string;
  dcrImmutableId: string;
  credential: TokenCredential;
  /** Token audience; default the public cloud's. */
  audience?: string;
  caCertificates?: string;
  throttle?: ThrottleOptions;
}): LogsUploader {
  const agent = ipv6LiteralAgent(o.endpoint, o.caCertificates);
  const client = new LogsIngestionClient(o.endpoint, o.credential, {
    audience: o.audience ?? INGESTION_AUDIENCES.AzureCloud,
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [{ policy: throttlingPolicy({ ...o.throttle }, newStats()), position: 'perRetry' }],
    userAgentOptions: { userAgentPrefix: 'perimeter-auditor' },
    ...(o.caCertificates ? { tlsOptions: { ca: o.caCertificates } } : {}),
    ...(agent ? { agent } : {}),
  });
  return {
    destination: { endpoint: printableUrl(new URL(o.endpoint)), dcrImmutableId: o.dcrImmutableId },
    async upload(stream, rows) {
      const index = new Map<object, number>(rows.map((r, i) => [r, i]));
      try {
        await client.upload(o.dcrImmutableId, stream, rows as Record<string, unknown>[]);
        return { failed: [], reasons: [] };
      } catch (error) {
        if (error instanceof AggregateLogsUploadError) {
          const failed = error.errors.flatMap((e) => e.failedLogs.map((r) => index.get(r) ?? -1)).filter((i) => i >= 0);
          return { failed, reasons: [...new Set(error.errors.map((e) => describeError(e.cause).message))] };
        }
        return { failed: rows.map((_, i) => i), reasons: [describeError(error).message] };
      }
    },
  };
}

/** Half-open index ranges `[start, end)`. */
export type Ranges = Array<[number, number]>;

/** One stream's ledger: rows of the scan, and the ranges that have not arrived. */
export interface StreamLedger {
  readonly rows: number;
  readonly missing: Ranges;
}

/** What the export of one scan achieved (`exports/{scanId}.json`). */
export interface ExportRecord {
  readonly schemaVersion: 1;
  readonly scanId: string;
  readonly destination: { readonly endpoint: string; readonly dcrImmutableId: string };
  /** `sent`: every row arrived. `failed`: some did not (see `missing`). `unavailable`: the scan's findings can no longer be read. */
  readonly status: 'sent' | 'failed' | 'unavailable';
  readonly attempts: number;
  readonly lastAttemptAt: string;
  readonly streams: Readonly<Record<string, StreamLedger>>;
  /** Why rows did not arrive (the last attempt's reasons). */
  readonly reason?: string;
}

/** Rows of a record not yet arrived (count). */
export function missingRows(record: Pick<ExportRecord, 'streams'>): number {
  return Object.values(record.streams).reduce((n, s) => n + s.missing.reduce((m, [a, b]) => m + (b - a), 0), 0);
}

/** Rows of a record (count). */
export function totalRows(record: Pick<ExportRecord, 'streams'>): number {
  return Object.values(record.streams).reduce((n, s) => n + s.rows, 0);
}

/** Sorted distinct indexes → ranges. */
export function toRanges(indexes: Iterable<number>): Ranges {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const out: Ranges = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}

function inRanges(ranges: Ranges, i: number): boolean {
  return ranges.some(([a, b]) => i >= a && i < b);
}

/** The export ledger: one JSON record per scan under `exports/`. */
export class ExportLedger {
  constructor(private readonly kv: KeyValueStore) {}

  private static key(scanId: string): string {
    return `exports/${scanId}.json`;
  }

  /** @returns the record, or undefined when the scan was never exported (or its record is unreadable) */
  async read(scanId: string): Promise<ExportRecord | undefined> {
    const text = await this.kv.get(ExportLedger.key(scanId));
    if (text === undefined) return undefined;
    try {
      const r = JSON.parse(text) as ExportRecord;
      return r.schemaVersion === 1 && r.scanId === scanId ? r : undefined;
    } catch {
      return undefined;
    }
  }

  async write(record: ExportRecord): Promise<void> {
    await this.kv.put(ExportLedger.key(record.scanId), `${JSON.stringify(record, null, 2)}\n`);
  }

  /**
   * Scans among the newest `window` (count, default 30) whose last export left rows behind (scan IDs,
   * oldest first). Only their records are read, however many scans the ledger holds; scan IDs sort by time.
   */
  async pending(window = 30): Promise<string[]> {
    const keys = (await this.kv.list('exports/')).sort().slice(-window);
    const out: string[] = [];
    for (const key of keys) {
      const id = /^exports\/(.+)\.json$/.exec(key)?.[1];
      if (!id) continue;
      const r = await this.read(id);
      if (r?.status === 'failed') out.push(id);
    }
    return out;
  }
}

/**
 * Exports a committed scan — its findings and its summary row — or, given the previous record, only
 * the rows that did not arrive then. The rows are rebuilt from the stored findings in their stored
 * order, so row `i` of an attempt is row `i` of every other.
 * @returns the new record (also written to the ledger); never throws for a refused upload
 * @throws the ledger's I/O error, or the findings source's read error
 */
export async function exportScan(o: {
  scan: ScanDocument;
  findings: FindingSource;
  uploader: LogsUploader;
  ledger: ExportLedger;
  now?: () => Date;
  log?: (line: string) => void;
}): Promise<ExportRecord> {
  const { scan, uploader } = o;
  const previous = await o.ledger.read(scan.scanId);
  const want = (stream: string, i: number) => !previous || inRanges(previous.streams[stream]?.missing ?? [[0, Number.MAX_SAFE_INTEGER]], i);
  const controls = new Map(scan.rules.map((r) => [r.id, { mcsb: r.controls.mcsb, azurePolicy: r.controls.azurePolicy, cis: r.controls.cis }]));
  const reasons = new Set<string>();

  // Findings, in batches; indexes count every finding of the scan, sent or skipped.
  const findingsMissing: number[] = [];
  let count = 0;
  let batch: { index: number; row: Record<string, unknown> }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const sent = batch;
    batch = [];
    const r = await uploader.upload(FINDINGS_TABLE.stream, sent.map((b) => b.row));
    for (const i of r.failed) findingsMissing.push(sent[i]?.index ?? -1);
    for (const reason of r.reasons) reasons.add(reason);
  };
  for await (const f of o.findings() as AsyncIterable<Finding>) {
    const i = count;
    count += 1;
    if (!want(FINDINGS_TABLE.stream, i)) continue;
    batch.push({ index: i, row: findingRow(f, { scanId: scan.scanId, at: scan.finishedAt, source: 'scan', controls: controls.get(f.ruleId) ?? {} }) });
    if (batch.length >= ROWS_PER_UPLOAD) await flush();
  }
  await flush();

  // The scan's own row.
  const scanMissing: number[] = [];
  if (want(SCANS_TABLE.stream, 0)) {
    const r = await uploader.upload(SCANS_TABLE.stream, [scanRow(scan)]);
    if (r.failed.length > 0) scanMissing.push(0);
    for (const reason of r.reasons) reasons.add(reason);
  }

  const streams = {
    [FINDINGS_TABLE.stream]: { rows: count, missing: toRanges(findingsMissing.filter((i) => i >= 0)) },
    [SCANS_TABLE.stream]: { rows: 1, missing: toRanges(scanMissing) },
  };
  const failed = Object.values(streams).some((s) => s.missing.length > 0);
  const record: ExportRecord = {
    schemaVersion: 1,
    scanId: scan.scanId,
    destination: uploader.destination,
    status: failed ? 'failed' : 'sent',
    attempts: (previous?.attempts ?? 0) + 1,
    lastAttemptAt: (o.now?.() ?? new Date()).toISOString(),
    streams,
    ...(failed ? { reason: [...reasons].join('; ').slice(0, 2000) } : {}),
  };
  await o.ledger.write(record);
  o.log?.(exportLine(record));
  return record;
}

/** The export's outcome in one line, for the CLI summary and the Functions log. */
export function exportLine(r: ExportRecord): string {
  const total = totalRows(r);
  const missing = missingRows(r);
  if (r.status === 'sent') return `export: ${total} row(s) of scan ${r.scanId} in Log Analytics (${r.streams[FINDINGS_TABLE.stream]?.rows ?? 0} finding(s), 1 scan summary; attempt ${r.attempts})`;
  if (r.status === 'unavailable') return `export: scan ${r.scanId} can no longer be exported: ${r.reason ?? 'its findings are gone'}`;
  return `export: ${missing} of ${total} row(s) of scan ${r.scanId} did not reach Log Analytics (${r.reason ?? 'no reason given'}); the next run retries them, or: perimeter-auditor export logs --scan ${r.scanId}`;
}

/**
 * The after-commit export of a scan, then a retry of the earlier scans whose export left rows
 * behind (at most `retryLimit`, oldest first). Never throws: every failure is logged and recorded.
 * @param findingsOf the stored findings of an earlier scan, or undefined when they can no longer be read
 * @returns this scan's record, or undefined when even the ledger could not be written
 */
export async function exportAfterCommit(o: {
  scan: ScanDocument;
  findings: FindingSource;
  uploader: LogsUploader;
  ledger: ExportLedger;
  findingsOf?: (scanId: string) => Promise<{ scan: ScanDocument; findings: FindingSource } | undefined>;
  retryLimit?: number;
  log: (line: string) => void;
  now?: () => Date;
}): Promise<ExportRecord | undefined> {
  let record: ExportRecord | undefined;
  try {
    record = await exportScan({ scan: o.scan, findings: o.findings, uploader: o.uploader, ledger: o.ledger, log: o.log, ...(o.now ? { now: o.now } : {}) });
  } catch (error) {
    o.log(`export: scan ${o.scan.scanId} was not exported: ${describeError(error).message}`);
  }
  try {
    const pending = (await o.ledger.pending()).filter((id) => id !== o.scan.scanId).slice(0, o.retryLimit ?? 3);
    for (const id of pending) {
      const stored = await o.findingsOf?.(id);
      if (!stored) {
        const before = await o.ledger.read(id);
        if (before) await o.ledger.write({ ...before, status: 'unavailable', reason: 'the scan\'s findings are no longer stored here (a directory keeps only its last scan)' });
        continue;
      }
      await exportScan({ scan: stored.scan, findings: stored.findings, uploader: o.uploader, ledger: o.ledger, log: o.log, ...(o.now ? { now: o.now } : {}) });
    }
  } catch (error) {
    o.log(`export: earlier exports were not retried: ${describeError(error).message}`);
  }
  return record;
}

/**
 * A change evaluation's findings to the findings stream (`Source` = `event`, `ScanId` = the event's
 * ID). Best effort: the next scan exports every account's findings again.
 * @returns rows sent and failed (counts), and why
 */
export async function exportEventFindings(o: {
  findings: readonly Finding[];
  eventId: string;
  at: string;
  rules: ReadonlyMap<string, { mcsb: readonly string[]; azurePolicy: readonly string[]; cis: readonly string[] }>;
  uploader: LogsUploader;
}): Promise<{ sent: number; failed: number; reasons: string[] }> {
  if (o.findings.length === 0) return { sent: 0, failed: 0, reasons: [] };
  const rows = o.findings.map((f) => findingRow(f, { scanId: o.eventId, at: o.at, source: 'event', controls: o.rules.get(f.ruleId) ?? {} }));
  const r = await o.uploader.upload(FINDINGS_TABLE.stream, rows);
  return { sent: rows.length - r.failed.length, failed: r.failed.length, reasons: r.reasons };
}

/** Thrown when the export's endpoint and rule are not given together, or one is malformed. */
export class ExportConfigError extends Error {}

/**
 * The uploader for an endpoint and rule given together (flags or settings), or undefined when neither is.
 * The development token for an https loopback endpoint (the simulator), else `credential`.
 * @param names how the inputs are called in messages, e.g. `--logs-ingestion-endpoint`
 * @throws ExportConfigError when only one is given, or the rule ID is not `dcr-` and 32 hex digits
 */
export function uploaderFrom(o: {
  endpoint: string | undefined;
  dcrImmutableId: string | undefined;
  names: { endpoint: string; dcrImmutableId: string };
  cloud: keyof typeof INGESTION_AUDIENCES;
  credential: (endpoint: string) => TokenCredential;
  caCertificates?: string;
  throttle?: ThrottleOptions;
}): LogsUploader | undefined {
  if (o.endpoint === undefined && o.dcrImmutableId === undefined) return undefined;
  if (o.endpoint === undefined || o.dcrImmutableId === undefined)
    throw new ExportConfigError(`${o.names.endpoint} and ${o.names.dcrImmutableId} go together: set both to export to Log Analytics, or neither`);
  if (!/^dcr-[0-9a-f]{32}$/i.test(o.dcrImmutableId)) throw new ExportConfigError(`${o.names.dcrImmutableId} is not a data collection rule immutable ID (dcr- and 32 hex digits)`);
  return createLogsUploader({
    endpoint: o.endpoint,
    dcrImmutableId: o.dcrImmutableId,
    credential: o.credential(o.endpoint),
    audience: INGESTION_AUDIENCES[o.cloud],
    ...(o.caCertificates ? { caCertificates: o.caCertificates } : {}),
    ...(o.throttle ? { throttle: o.throttle } : {}),
  });
}
