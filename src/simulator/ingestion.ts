import { gunzipSync } from 'node:zlib';
import { DEVELOPMENT_TOKEN } from '../collect/clients.js';
import { type Column, EXPORT_TABLES } from '../export/tables.js';
import type { SimulatorResponse } from './server.js';

/**
 * The simulator's Logs Ingestion API (AZURE-FACTS.md, "Logs Ingestion API"): the endpoint a data
 * collection rule (or its data collection endpoint) serves, in the REST shape `@azure/monitor-ingestion`
 * speaks — `POST /dataCollectionRules/{dcrImmutableId}/streams/{streamName}?api-version=2023-01-01`,
 * a JSON array of rows as the body, `Content-Encoding: gzip` optional, `204` on success.
 *
 * Answers, in the order they are decided:
 * - 400 `MissingApiVersionParameter` / `UnsupportedApiVersion` without a known api-version;
 * - 413 `ContentLengthLimitExceeded` when the body as sent is over 1 MiB (the service's message:
 *   "Maximum allowed content length: 1048576 bytes (1 MB). Provided content length: … bytes.");
 * - 403 `OperationFailed` when the bearer token is refused (`IngestionOptions.acceptToken`): the
 *   service's answer to a caller without Monitoring Metrics Publisher on the rule;
 * - 404 `DataCollectionRuleNotFound` / `StreamNotFound` for a rule or stream the model does not declare;
 * - 415 `UnsupportedContentEncoding` for an encoding other than gzip, 400 `InvalidContentEncoding`
 *   for a body that does not gunzip, 413 `ContentLengthLimitExceeded` when it is over 1 MiB once
 *   decompressed (the service's limit applies to compressed and uncompressed data alike);
 * - 400 `InvalidPayload` when the body is not a JSON array of objects, or a row does not match the
 *   stream's declared columns (`rowProblems`): the message names the row index and the column, and
 *   `details` lists the first problems (`code`, `message`, `target` `[row].Column`);
 * - 204 otherwise, the rows appended to `IngestionModel.received` and the call to `uploads`.
 *
 * Deliberately stricter than the service: Azure accepts rows whose columns are unknown or of the wrong
 * type with a 204 and drops or nulls those values later (they surface only in the rule's error logs),
 * so an exporter bug would go unseen; the simulator refuses the call instead. A refused call stores
 * nothing, like a refused chunk in Azure.
 */

/** A data collection rule immutable ID the simulator declares by default (`dcr-` and 32 hex digits). */
export const SIMULATOR_DCR_ID = 'dcr-00000000000000000000000000000001';

/** The api-version `@azure/monitor-ingestion` 1.x sends (and the only GA one). */
export const INGESTION_API_VERSION = '2023-01-01';

/** Api-versions the simulator accepts: the GA one and the preview before it. */
const API_VERSIONS = [INGESTION_API_VERSION, '2021-11-01-preview'];

/** The largest body of one call, in bytes (1 MiB), as sent and once decompressed. */
export const INGESTION_MAX_BYTES = 1_048_576;

/** The route: `POST /dataCollectionRules/{dcrImmutableId}/streams/{streamName}` (path segments URL-encoded). */
export const INGESTION_ROUTE = /^\/dataCollectionRules\/([^/]+)\/streams\/([^/]+)\/?$/;

/** Problems listed in a 400's `details` (the message names the first). */
const MAX_DETAILS = 20;

/** A data collection rule as the simulator knows it: its stream declarations (stream name → columns). */
export interface DataCollectionRule {
  readonly streams: Record<string, readonly Column[]>;
}

/** One accepted call, for tests about chunking and encoding. */
export interface IngestionUpload {
  readonly ruleId: string;
  readonly stream: string;
  /** Rows in the call (count). */
  readonly rows: number;
  /** Body size as sent (bytes). */
  readonly bytes: number;
  /** Body size once decompressed (bytes); equal to `bytes` without an encoding. */
  readonly decodedBytes: number;
  /** The request's `Content-Encoding`, '' when absent. */
  readonly contentEncoding: string;
}

/**
 * The ingestion state of a simulator (`ArmSimulator.ingestion`). All fields are live: a test may add
 * a rule or a stream between calls and reads arrivals from `received`.
 */
export interface IngestionModel {
  /** Immutable ID (`dcr-…`) → the rule. Default: `SIMULATOR_DCR_ID` declaring every stream of `EXPORT_TABLES`. */
  readonly rules: Record<string, DataCollectionRule>;
  /** `receivedKey(ruleId, stream)` → the rows accepted, in arrival order (the SDK sends chunks concurrently). */
  readonly received: Record<string, Array<Record<string, unknown>>>;
  /** Every accepted call, in arrival order. */
  readonly uploads: IngestionUpload[];
}

/** The ingestion part of `SimulatorOptions`. */
export interface IngestionOptions {
  /** The rules to declare instead of the default one. */
  readonly rules?: Record<string, DataCollectionRule>;
  /**
   * Decides whether a bearer token's identity may ingest (holds Monitoring Metrics Publisher on the
   * rule); a refused one gets 403. Default: only `DEVELOPMENT_TOKEN` (src/collect/clients.ts).
   */
  readonly acceptToken?: (token: string) => boolean;
}

/** The request as the route needs it. */
export interface IngestionRequest {
  /** The URL-decoded path segments of the route. */
  readonly ruleId: string;
  readonly stream: string;
  /** The request's `api-version` query parameter, null when absent. */
  readonly apiVersion: string | null;
  /** The `Content-Encoding` header, undefined when absent. */
  readonly contentEncoding: string | undefined;
  /** The bearer token (the `Authorization` header without `Bearer `). */
  readonly token: string;
  /** The body as sent. */
  readonly body: Buffer;
}

/** The key of `IngestionModel.received` for a rule's stream: `{ruleId}/{stream}`. */
export function receivedKey(ruleId: string, stream: string): string {
  return `${ruleId}/${stream}`;
}

/** The default rules: `SIMULATOR_DCR_ID` declaring each export table's stream with its columns. */
export function defaultIngestionRules(): Record<string, DataCollectionRule> {
  return { [SIMULATOR_DCR_ID]: { streams: Object.fromEntries(EXPORT_TABLES.map((t) => [t.stream, t.columns])) } };
}

/** A fresh model: the given rules (default `defaultIngestionRules()`), nothing received. */
export function ingestionModel(rules?: Record<string, DataCollectionRule>): IngestionModel {
  return { rules: rules ?? defaultIngestionRules(), received: {}, uploads: [] };
}

/** The default of `IngestionOptions.acceptToken`: the development token only. */
export function acceptsDevelopmentToken(token: string): boolean {
  return token === DEVELOPMENT_TOKEN;
}

/** A row's problem: its `code` (`InvalidRow`, `UnknownColumn`, `InvalidColumnType`), a message, and the `[row].Column` target. */
export interface RowProblem {
  readonly code: 'InvalidRow' | 'UnknownColumn' | 'InvalidColumnType';
  readonly message: string;
  readonly target: string;
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Whether `value` fits a Log Analytics column type: string → a JSON string; int → an integer within
 * 32 bits; long → an integer; real → a number; boolean → true/false; datetime → ISO 8601 text that
 * parses as a date; dynamic → any JSON. `null` fits every type (no value, as an absent column).
 */
export function fitsColumnType(value: unknown, type: Column['type']): boolean {
  if (value === null) return true;
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'int':
      return Number.isInteger(value) && (value as number) >= INT_MIN && (value as number) <= INT_MAX;
    case 'long':
      return Number.isInteger(value);
    case 'real':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'datetime':
      return typeof value === 'string' && ISO_DATETIME.test(value) && Number.isFinite(Date.parse(value));
    case 'dynamic':
      return value !== undefined;
  }
}

/** A value in a message: its JSON type and up to 40 characters of it. */
function valueText(value: unknown): string {
  const kind = Array.isArray(value) ? 'array' : typeof value;
  const text = JSON.stringify(value) ?? String(value);
  return `${kind} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

/**
 * The problems of the rows of one call against a stream's declared columns, in row order (at most
 * `limit`): a row that is not a JSON object, a column the stream does not declare, a value that does
 * not fit its column's type (`fitsColumnType`). A column left out of a row is not a problem.
 */
export function rowProblems(rows: readonly unknown[], columns: readonly Column[], limit = MAX_DETAILS): RowProblem[] {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const problems: RowProblem[] = [];
  for (const [i, row] of rows.entries()) {
    if (problems.length >= limit) break;
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      problems.push({ code: 'InvalidRow', message: `row ${i} is not a JSON object (${valueText(row)})`, target: `[${i}]` });
      continue;
    }
    for (const [name, value] of Object.entries(row)) {
      if (problems.length >= limit) break;
      const type = types.get(name);
      if (type === undefined) {
        problems.push({ code: 'UnknownColumn', message: `row ${i}, column '${name}': the stream declares no such column`, target: `[${i}].${name}` });
      } else if (!fitsColumnType(value, type)) {
        problems.push({ code: 'InvalidColumnType', message: `row ${i}, column '${name}': expected ${type}, got ${valueText(value)}`, target: `[${i}].${name}` });
      }
    }
  }
  return problems;
}

/** The service's error shape: `{ error: { code, message, details? } }`. */
function ingestionError(status: number, code: string, message: string, details?: readonly RowProblem[]): SimulatorResponse {
  return { status, body: { error: { code, message, ...(details ? { details } : {}) } } };
}

/** 413 in the service's words; `provided` says how large the body is ("1068792 bytes"). */
function tooLarge(provided: string): SimulatorResponse {
  return ingestionError(413, 'ContentLengthLimitExceeded', `Maximum allowed content length: ${INGESTION_MAX_BYTES} bytes (1 MB). Provided content length: ${provided}.`);
}

/**
 * Answers one `POST /dataCollectionRules/{id}/streams/{stream}` (the order and codes are in this
 * module's comment) and, on 204, records the rows in `model`.
 * @param acceptToken `IngestionOptions.acceptToken` (default `acceptsDevelopmentToken`)
 */
export function ingestionAnswer(
  model: IngestionModel,
  request: IngestionRequest,
  acceptToken: (token: string) => boolean = acceptsDevelopmentToken,
): SimulatorResponse {
  const { ruleId, stream } = request;
  if (request.apiVersion === null) return ingestionError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
  if (!API_VERSIONS.includes(request.apiVersion)) {
    return ingestionError(400, 'UnsupportedApiVersion', `The HTTP resource does not support api version '${request.apiVersion}'. Supported versions: ${API_VERSIONS.join(', ')}.`);
  }
  if (request.body.length > INGESTION_MAX_BYTES) return tooLarge(`${request.body.length} bytes`);
  if (!acceptToken(request.token)) {
    return ingestionError(403, 'OperationFailed', `The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '${ruleId}'.`);
  }
  const rule = model.rules[ruleId];
  if (!rule) return ingestionError(404, 'DataCollectionRuleNotFound', `Data collection rule with immutable Id '${ruleId}' not found.`);
  const columns = rule.streams[stream];
  if (!columns) return ingestionError(404, 'StreamNotFound', `Stream '${stream}' is not declared by the data collection rule with immutable Id '${ruleId}'.`);

  const encoding = (request.contentEncoding ?? '').trim().toLowerCase();
  let decoded = request.body;
  if (encoding === 'gzip') {
    try {
      // Decompression stops at the limit (a small gzip body may expand to gigabytes).
      decoded = gunzipSync(request.body, { maxOutputLength: INGESTION_MAX_BYTES });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return tooLarge(`more than ${INGESTION_MAX_BYTES} bytes once decompressed`);
      return ingestionError(400, 'InvalidContentEncoding', `The body is not valid gzip: ${(error as Error).message}`);
    }
  } else if (encoding !== '' && encoding !== 'identity') {
    return ingestionError(415, 'UnsupportedContentEncoding', `Content-Encoding '${request.contentEncoding}' is not supported; send gzip or no encoding.`);
  }

  let rows: unknown;
  try {
    rows = JSON.parse(decoded.toString('utf8'));
  } catch (error) {
    return ingestionError(400, 'InvalidPayload', `The body is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(rows)) return ingestionError(400, 'InvalidPayload', `The body must be a JSON array of rows, not ${valueText(rows)}.`);
  const problems = rowProblems(rows, columns);
  const [first] = problems;
  if (first) return ingestionError(400, 'InvalidPayload', `The rows do not match the columns of stream '${stream}': ${first.message}${problems.length > 1 ? ` (and more, see details)` : ''}.`, problems);

  const key = receivedKey(ruleId, stream);
  const list = (model.received[key] ??= []);
  for (const row of rows as Array<Record<string, unknown>>) list.push(row);
  model.uploads.push({ ruleId, stream, rows: rows.length, bytes: request.body.length, decodedBytes: decoded.length, contentEncoding: request.contentEncoding ?? '' });
  return { status: 204 };
}
