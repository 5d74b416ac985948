import type { Readable } from 'node:stream';
import type { RestError } from '@azure/core-rest-pipeline';
import { catalogEntry } from '../domain/rule.js';
import { REPORT_FILES, REPORT_FORMATS, type ReportFormat } from '../reports/index.js';
import { REPORT_CSP } from '../reports/html.js';
import { RULES } from '../rules/index.js';
import { isScanId, newScanId, type ScanDocument } from '../store/scanDocument.js';
import type { ScanLock } from '../store/scanLock.js';
import { coverageOf, scanHeadline } from '../reports/coverage.js';
import { TREND_LIMIT, type TrendPoint } from '../reports/trend.js';
import type { BlobStore } from '../store/stores.js';

/**
 * The reports API (issue: exported compliance reports), independent of the Functions runtime so the
 * function files stay thin. Every answer is a plain `{ status, headers, body }`.
 *
 * A scanId that is not of the scanId form (`2026-11-21T03-00-00Z-abc123`) or `latest` is a 400 and
 * never reaches a blob path.
 */

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Readable;
}

export interface ApiDeps {
  readonly store: BlobStore;
  readonly lock: ScanLock;
  readonly now?: () => Date;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function json(status: number, value: unknown): ApiResponse {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(value, null, 2) };
}

function problem(status: number, title: string, detail: string): ApiResponse {
  return json(status, { status, title, detail });
}

/** One entry of `GET /api/scans`. */
export interface ScanListItem {
  readonly scanId: string;
  readonly status?: ScanDocument['status'];
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly accounts?: number;
  readonly byOutcome?: ScanDocument['summary']['byOutcome'];
  /** The compliance headline over the accounts read (src/reports/coverage.ts). */
  readonly headline?: string;
  /** What the scan read, in words: accounts read, subscriptions read of those in scope, gaps. */
  readonly coverage?: string;
  /** Relative links to the reports. */
  readonly reports: Record<ReportFormat, string>;
}

function reportLinks(scanId: string): Record<ReportFormat, string> {
  return Object.fromEntries(REPORT_FORMATS.map((f) => [f, `/api/scans/${scanId}/report?format=${f}`])) as Record<ReportFormat, string>;
}

/**
 * `GET /api/scans?limit=20&before={scanId}`: committed scans, newest first, `limit` (1–100) per page;
 * `next` is the query for the following page. Only committed scans are listed
 * (`BlobStore.committedScanIds`: a commit record or `latest.json`): a running scan, or one whose
 * commit was refused, is not, even once a later scan has committed.
 */
export async function listScans(deps: ApiDeps, query: URLSearchParams): Promise<ApiResponse> {
  const limitText = query.get('limit') ?? '20';
  if (!/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 100) {
    return problem(400, 'Bad limit', 'limit must be a whole number from 1 to 100');
  }
  const limit = Number(limitText);
  const before = query.get('before');
  if (before !== null && !isScanId(before)) return problem(400, 'Bad cursor', 'before must be a scanId');
  const ids = await deps.store.committedScanIds();
  const page: ScanListItem[] = [];
  let last: string | undefined;
  let more = false;
  for (const id of ids) {
    if (before !== null && id >= before) continue;
    if (page.length === limit) {
      more = true;
      break;
    }
    const stored = await deps.store.scan(id);
    last = id;
    if (!stored) continue;
    const s = stored.scan;
    page.push({
      scanId: id,
      status: s.status,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      accounts: s.coverage.accounts,
      byOutcome: s.summary.byOutcome,
      headline: scanHeadline(s).text,
      coverage: coverageOf(s).text,
      reports: reportLinks(id),
    });
  }
  const latest = await deps.store.latest();
  return json(200, { latest: latest?.scanId ?? null, scans: page, ...(more && last ? { next: `/api/scans?limit=${limit}&before=${last}` } : {}) });
}

/**
 * `GET /api/scans/{scanId}/report?format=html|csv|sarif|json` (`latest` accepted): the stored report
 * with its Content-Type and a Content-Disposition naming the file (HTML inline, the rest as attachments).
 */
export async function getReport(deps: ApiDeps, scanIdParam: string | undefined, query: URLSearchParams): Promise<ApiResponse> {
  const format = (query.get('format') ?? 'html').toLowerCase();
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
    return problem(400, 'Bad format', `format must be one of ${REPORT_FORMATS.join(', ')}`);
  }
  let scanId = scanIdParam ?? '';
  if (scanId === 'latest') {
    const latest = await deps.store.latest();
    if (!latest) return problem(404, 'No scan yet', 'no scan has been committed');
    scanId = latest.scanId;
  }
  if (!isScanId(scanId)) return problem(400, 'Bad scanId', 'scanId must look like 2026-11-21T03-00-00Z-abc123, or be latest');
  const file = REPORT_FILES[format as ReportFormat];
  const blob = deps.store.container.getBlobClient(`scans/${scanId}/${file.name}`);
  let body: Readable;
  try {
    const response = await blob.download();
    body = response.readableStreamBody as unknown as Readable;
  } catch (error) {
    if ((error as RestError).statusCode === 404) return problem(404, 'Not found', `scan ${scanId} has no ${file.name}`);
    throw error;
  }
  const ext = file.name.slice(file.name.indexOf('.') + 1);
  const filename = `perimeter-audit-${scanId}.${ext}`;
  const headers: Record<string, string> = {
    'content-type': file.contentType,
    'content-disposition': `${format === 'html' ? 'inline' : 'attachment'}; filename="${filename}"`,
    'cache-control': 'private, max-age=300',
    'x-content-type-options': 'nosniff',
  };
  if (format === 'html') headers['content-security-policy'] = REPORT_CSP;
  return { status: 200, headers, body };
}

/** The body of `GET /api/scans/trend`. */
export interface TrendResponse {
  /** The most scans asked for (count). */
  readonly limit: number;
  /** The committed scans' trend points, oldest first (reports/trend.ts): the series the HTML report draws. */
  readonly scans: readonly TrendPoint[];
}

/**
 * `GET /api/scans/trend?limit=30`: compliance and fails by severity of the last `limit` (1–30,
 * default 30) committed scans, oldest first, from their `scan.json` summaries (BlobStore.history,
 * the series builder of reports/trend.ts); `scans` is empty before the first commit. A `limit` that
 * is not a whole number from 1 to 30 is a 400.
 */
export async function getTrend(deps: ApiDeps, query: URLSearchParams): Promise<ApiResponse> {
  const limitText = query.get('limit') ?? String(TREND_LIMIT);
  if (!/^\d{1,2}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > TREND_LIMIT) {
    return problem(400, 'Bad limit', `limit must be a whole number from 1 to ${TREND_LIMIT}`);
  }
  const limit = Number(limitText);
  const body: TrendResponse = { limit, scans: await deps.store.history(limit) };
  return json(200, body);
}

/** `GET /api/rules`: the catalog. */
export function getRules(): ApiResponse {
  return json(200, RULES.map(catalogEntry));
}

/**
 * `POST /api/scans`: allots a scanId and takes the scan lock, so the caller gets the ID at once
 * (202, `Location` to its scan); 409 with the running scan's ID while another scan holds the lock.
 * The caller then hands `{ scanId }` to the queue the scan worker reads.
 */
export async function startScan(deps: ApiDeps): Promise<{ response: ApiResponse; scanId?: string }> {
  const scanId = newScanId((deps.now ?? (() => new Date()))());
  const result = await deps.lock.acquire(scanId, 'http');
  if (!result.acquired) {
    return {
      response: json(409, {
        status: 409,
        title: 'A scan is running',
        detail: `scan ${result.holder.scanId} (${result.holder.trigger}) started at ${result.holder.startedAt}`,
        running: result.holder,
      }),
    };
  }
  const response = json(202, { scanId, status: 'queued', scan: `/api/scans/${scanId}/report?format=json` });
  return { response: { ...response, headers: { ...response.headers, location: `/api/scans/${scanId}/report?format=json` } }, scanId };
}
