import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { generate } from 'selfsigned';
import { cosmosModel, type CosmosModel, sqlRoleAssignmentsAnswer } from './cosmos.js';
import { type AccessLogModel, accessLogModel, diagnosticSettingsAnswer, LOGS_QUERY_ROUTE, logsQueryAnswer } from './accessLogs.js';
import { INGESTION_ROUTE, ingestionAnswer, type IngestionModel, ingestionModel, type IngestionOptions } from './ingestion.js';

/**
 * A local HTTPS Azure Resource Manager simulator speaking the REST shapes of
 * shared/design/AZURE-FACTS.md: Resource Graph (`POST /providers/Microsoft.ResourceGraph/resources`,
 * tables, `$top`/`$skipToken` paging, quota headers, optional 429s) and the Cognitive Services
 * perimeter configuration API, the perimeters' access logs (diagnostic settings and the Log
 * Analytics query API under `/v1`, accessLogs.ts), and the Logs Ingestion API the export uploads to
 * (`/dataCollectionRules/…`, ingestion.ts). The certificate is made at start; trust it with
 * `NODE_EXTRA_CA_CERTS=<caFile>` or the SDK option `tlsOptions: { ca }`.
 *
 * Used by `perimeter-auditor demo`, the benchmarks and the tests: a stand-in for Azure on loopback,
 * never a proxy to it.
 */

/** A raw ARM row (any JSON object). */
export type Row = Record<string, unknown>;

/**
 * The tenant the simulator serves, in raw ARM shape. The access-log fields (diagnostic settings,
 * workspaces refused or partial, traffic; accessLogs.ts) are optional: absent means none.
 */
export interface SimulatorTenant extends Partial<AccessLogModel>, Partial<CosmosModel> {
  /** `resourcecontainers` rows (type microsoft.resources/subscriptions). */
  readonly resourcecontainers: Row[];
  readonly resources: Row[];
  readonly networkresources: Row[];
  readonly authorizationresources: Row[];
  /** Lower-case account ID → its `networkSecurityPerimeterConfigurations` items. */
  readonly perimeterConfigurations: Record<string, Row[]>;
  /** Management group name → subscription IDs under it. */
  readonly managementGroups: Record<string, string[]>;
  /** Subscriptions listed in resourcecontainers whose resources the caller may not read (403). */
  readonly forbiddenSubscriptions: string[];
}

/** A request as the fault hook sees it. */
export interface SimulatorRequest {
  /**
   * `logs`: the Log Analytics query API (`POST /v1/workspaces/{customerId}/query`); `ingestion`: the
   * Logs Ingestion API (`POST /dataCollectionRules/{id}/streams/{stream}`, ingestion.ts).
   */
  readonly kind: 'graph' | 'arm' | 'logs' | 'ingestion';
  readonly method: string;
  readonly path: string;
  /** The query string, e.g. `?api-version=2024-10-01`. */
  readonly search: string;
  /** Parsed JSON body (Resource Graph, Log Analytics), else undefined (ingestion bodies too: an array, maybe gzipped). */
  readonly body: Record<string, unknown> | undefined;
  /** 1-based count of requests of this kind so far. */
  readonly sequence: number;
}

/** A response the fault hook substitutes; `body` is sent as JSON unless it is a string. */
export interface SimulatorResponse {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Destroy the connection instead of answering. */
  readonly reset?: boolean;
  /** Wait this long (ms) before answering. */
  readonly delayMs?: number;
  /** Send the status, the headers and the first half of the body, then nothing more (a stalled body). */
  readonly stallBody?: boolean;
  /** Never answer: the request stays open until the client gives up or the simulator closes. */
  readonly hang?: boolean;
}

export interface SimulatorOptions {
  readonly tenant: SimulatorTenant;
  /** Added to every response (ms). Default 0. */
  readonly latencyMs?: number;
  /**
   * Transfer rate for response bodies (bytes per ms): a response of N bytes waits N / rate ms more,
   * so a query returning less data answers sooner, as on a real network. Default: no transfer cost.
   */
  readonly transferBytesPerMs?: number;
  /**
   * ARM read throttling per subscription, a token bucket (Azure Resource Manager "request limits and
   * throttling": subscription reads, bucket 250, refill 25 per second). Beyond it: 429 with Retry-After.
   * Default: not enforced.
   */
  readonly armBucket?: { readonly size: number; readonly refillPerSecond: number };
  /**
   * The clock of the quota window, the ARM token buckets and the access logs (a query's window, the
   * traffic's `lastSeenDaysAgo`), in ms since the epoch. Default the real one; a test that shares a
   * fake clock with the client's pacing gets the same answers on any machine.
   */
  readonly now?: () => number;
  /** Resource Graph quota per user: `limit` queries per `windowMs`; beyond it, 429 when `enforce`. */
  readonly quota?: {
    readonly limit: number;
    readonly windowMs: number;
    readonly enforce: boolean;
    readonly retryAfter: boolean;
  };
  /** Rows per Resource Graph page when the request gives no `$top`. Default 100 (the service's). */
  readonly defaultPageSize?: number;
  /** Items per page of perimeter configurations before `nextLink`. Default 50. */
  readonly armPageSize?: number;
  /** Loopback address to listen on. Default `127.0.0.1`; `::1` serves `https://[::1]:{port}`. */
  readonly host?: '127.0.0.1' | '::1';
  /**
   * Called for every request; a returned response replaces the normal one (fault injection). A
   * promise holds the request until it settles: a test decides when a read is answered.
   */
  readonly fault?: (request: SimulatorRequest) => SimulatorResponse | undefined | Promise<SimulatorResponse | undefined>;
  /** The Logs Ingestion API: the data collection rules declared and the identities allowed (ingestion.ts). */
  readonly ingestion?: IngestionOptions;
}

/** A running simulator. */
export interface ArmSimulator {
  /** `https://127.0.0.1:{port}` (or `https://[::1]:{port}`) */
  readonly url: string;
  /** PEM of the self-signed certificate. */
  readonly caCertificate: string;
  /** A file holding `caCertificate`, for NODE_EXTRA_CA_CERTS (in the OS temporary directory; `close` removes it). */
  readonly caFile: string;
  /**
   * Counters (requests; `throttled` counts Resource Graph's and injected 429s, `logsRequests` Log
   * Analytics queries, `ingestionRequests` Logs Ingestion calls, refused ones included).
   */
  readonly stats: {
    graphRequests: number;
    armRequests: number;
    logsRequests: number;
    ingestionRequests: number;
    throttled: number;
    armThrottled: number;
    bytesSent: number;
  };
  /** The Logs Ingestion state: rules declared, rows received (`received[receivedKey(rule, stream)]`), accepted calls. */
  readonly ingestion: IngestionModel;
  close(): Promise<void>;
}

const TABLES = ['resourcecontainers', 'resources', 'networkresources', 'authorizationresources'] as const;

/**
 * Loads a tenant from a folder of fixture files (`*.json`, one per table; `perimeterConfigurations.json`,
 * `tenant.json`, `accessLogs.json` for the access-log model and `cosmos.json` for the Cosmos DB
 * data-plane role assignments, cosmos.ts; see tenants/sample).
 */
export async function loadTenant(dir: string): Promise<SimulatorTenant> {
  const json = async (name: string, fallback: unknown) => {
    try {
      return JSON.parse(await readFile(join(dir, name), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
      throw error;
    }
  };
  const configs = (await json('perimeterConfigurations.json', {})) as Record<string, Row[]>;
  const meta = (await json('tenant.json', {})) as {
    managementGroups?: Record<string, string[]>;
    forbiddenSubscriptions?: string[];
  };
  return {
    resourcecontainers: await json('resourcecontainers.json', []),
    resources: await json('resources.json', []),
    networkresources: await json('networkresources.json', []),
    authorizationresources: await json('authorizationresources.json', []),
    perimeterConfigurations: Object.fromEntries(Object.entries(configs).map(([k, v]) => [k.toLowerCase(), v])),
    managementGroups: meta.managementGroups ?? {},
    forbiddenSubscriptions: meta.forbiddenSubscriptions ?? [],
    ...accessLogModel(await json('accessLogs.json', {})),
    ...cosmosModel(await json('cosmos.json', {})),
  };
}

function subscriptionOf(row: Row): string | undefined {
  if (typeof row.subscriptionId === 'string' && row.subscriptionId !== '') return row.subscriptionId.toLowerCase();
  const m = typeof row.id === 'string' ? /^\/subscriptions\/([^/]+)/i.exec(row.id) : null;
  return m?.[1]?.toLowerCase();
}

/** Splits `text` on commas outside parentheses and quotes. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let current = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '\'' || ch === '"') quote = ch;
    else if (ch === '(') depth += 1;
    else if (ch === ')') depth -= 1;
    else if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** The value at a dotted path (`properties.networkAcls`), null when any step is missing (KQL's dynamic null). */
function pathValue(row: Row, path: string): unknown {
  let value: unknown = row;
  for (const step of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    value = (value as Record<string, unknown>)[step];
    if (value === undefined) return null;
  }
  return value;
}

/**
 * Splits a query into its pipe-separated parts (the table, then one operator each), outside string
 * literals (KQL's `'…'` and `"…"`, with `\\` escapes), so an ID holding `|` stays inside its literal.
 */
function pipeParts(query: string): string[] {
  const out: string[] = [];
  let quote = '';
  let current = '';
  for (let i = 0; i < query.length; i += 1) {
    const ch = query[i] as string;
    if (quote) {
      if (ch === '\\' && i + 1 < query.length) {
        current += ch + (query[i + 1] as string);
        i += 1;
        continue;
      }
      if (ch === quote) quote = '';
    } else if (ch === '\'' || ch === '"') quote = ch;
    else if (ch === '|') {
      out.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  out.push(current.trim());
  return out;
}

/** A `where` predicate over a row's type and subscription (both lower-case; '' for a row of no subscription). */
type RowFilter = (type: string, sub: string) => boolean;

/** Tokens of a `where` clause: string literals (decoded), words, and the operators and punctuation used. */
function whereTokens(text: string): Array<{ kind: 'string' | 'word' | 'op'; value: string }> | Error {
  const tokens: Array<{ kind: 'string' | 'word' | 'op'; value: string }> = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i += 1;
    } else if (ch === '\'' || ch === '"') {
      let value = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== ch; j += 1) {
        if (text[j] === '\\') {
          j += 1;
          const e = text[j];
          value += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : (e ?? '');
        } else value += text[j];
      }
      if (j >= text.length) return new Error('unterminated string literal');
      tokens.push({ kind: 'string', value });
      i = j + 1;
    } else {
      const m = /^(?:[A-Za-z_]\w*~?|=~|==|[(),])/.exec(text.slice(i));
      if (!m) return new Error(`unexpected '${text.slice(i, i + 20)}'`);
      tokens.push({ kind: /^[A-Za-z_]/.test(m[0]) && m[0] !== 'in~' ? 'word' : 'op', value: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

/**
 * The subset of KQL's `where` the collector's queries use, exactly: `type =~ '…'` (or `==`),
 * `isempty(subscriptionId)`, `subscriptionId in~ ('…', …)`, joined by `or`. Anything else is an Error
 * (answered 400), so that a clause the simulator cannot evaluate never silently returns every row.
 * `subscriptionId` is the simulator's subscription of a row: its column, or else its ID's.
 */
function whereFilter(clause: string): RowFilter | Error {
  const tokens = whereTokens(clause);
  if (tokens instanceof Error) return new Error(`unsupported where clause: ${clause} (${tokens.message})`);
  const terms: RowFilter[] = [];
  let i = 0;
  const at = (k: number) => tokens[i + k];
  const is = (k: number, value: string, kind?: 'string' | 'word' | 'op') => at(k)?.value === value && (kind === undefined || at(k)?.kind === kind);
  for (;;) {
    if (is(0, 'type', 'word') && (is(1, '=~') || is(1, '==')) && at(2)?.kind === 'string') {
      const insensitive = is(1, '=~');
      const value = (at(2) as { value: string }).value;
      terms.push(insensitive ? (type) => type === value.toLowerCase() : (type) => type === value);
      i += 3;
    } else if (is(0, 'isempty', 'word') && is(1, '(') && is(2, 'subscriptionId', 'word') && is(3, ')')) {
      terms.push((_type, sub) => sub === '');
      i += 4;
    } else if (is(0, 'subscriptionId', 'word') && is(1, 'in~', 'op') && is(2, '(')) {
      const ids = new Set<string>();
      i += 3;
      for (;;) {
        const t = at(0);
        if (t?.kind !== 'string') return new Error(`unsupported where clause: ${clause} (in~ takes string literals)`);
        ids.add(t.value.toLowerCase());
        i += 1;
        if (is(0, ',')) i += 1;
        else if (is(0, ')')) {
          i += 1;
          break;
        } else return new Error(`unsupported where clause: ${clause} (unterminated in~ list)`);
      }
      terms.push((_type, sub) => ids.has(sub));
    } else {
      return new Error(`unsupported where clause: ${clause}`);
    }
    if (i === tokens.length) break;
    if (!is(0, 'or', 'word')) return new Error(`unsupported where clause: ${clause}`);
    i += 1;
  }
  return (type, sub) => terms.some((t) => t(type, sub));
}

/**
 * The query's table, its `where` filters (all must hold) and its `project` (the text after
 * `project`): the operators the collector sends. Any other operator is an Error (answered 400).
 */
function parseGraphQuery(query: string): { table: string; filters: RowFilter[]; project?: string } | Error {
  const [head = '', ...ops] = pipeParts(query);
  const filters: RowFilter[] = [];
  let project: string | undefined;
  for (const op of ops) {
    const m = /^([A-Za-z-]+)\s+([\s\S]*)$/.exec(op);
    const name = m?.[1]?.toLowerCase();
    if (name === 'where') {
      const filter = whereFilter(m?.[2] ?? '');
      if (filter instanceof Error) return filter;
      filters.push(filter);
    } else if (name === 'project' && project === undefined) project = m?.[2] ?? '';
    else return new Error(`unsupported operator: ${op.slice(0, 80)}`);
  }
  return { table: head.toLowerCase(), filters, ...(project === undefined ? {} : { project }) };
}

/**
 * The subset of KQL's `project` the collector's queries use: `| project col, col, alias = pack('k', path, …),
 * alias = isnotnull(path)`. Returns undefined without a `project`, an Error for anything else.
 */
function projectionOf(project: string | undefined): ((row: Row) => Row) | Error | undefined {
  if (project === undefined) return undefined;
  const items = splitTopLevel(project);
  const columns: Array<(row: Row, out: Row) => void> = [];
  for (const item of items) {
    const plain = /^([A-Za-z_]\w*)$/.exec(item);
    if (plain) {
      const name = plain[1] as string;
      columns.push((row, out) => {
        out[name] = row[name] ?? null;
      });
      continue;
    }
    const call = /^([A-Za-z_]\w*)\s*=\s*(pack|isnotnull)\((.*)\)$/s.exec(item);
    if (!call) return new Error(`unsupported projection: ${item}`);
    const [, alias = '', fn, args = ''] = call;
    if (fn === 'isnotnull') {
      const path = args.trim();
      columns.push((row, out) => {
        out[alias] = pathValue(row, path) !== null;
      });
      continue;
    }
    const parts = splitTopLevel(args);
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([(parts[i] as string).replace(/^'|'$/g, ''), parts[i + 1] as string]);
    columns.push((row, out) => {
      out[alias] = Object.fromEntries(pairs.map(([k, path]) => [k, pathValue(row, path)]));
    });
  }
  return (row) => {
    const out: Row = {};
    for (const c of columns) c(row, out);
    return out;
  };
}

function armError(status: number, code: string, message: string): SimulatorResponse {
  return { status, body: { error: { code, message } } };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function formatResetsAfter(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/** Starts the simulator on an ephemeral loopback port. */
export async function startArmSimulator(options: SimulatorOptions): Promise<ArmSimulator> {
  const cert = await generate([{ name: 'commonName', value: 'perimeter-auditor ARM simulator' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 7 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const tenant = options.tenant;
  const forbidden = new Set(tenant.forbiddenSubscriptions.map((s) => s.toLowerCase()));
  const stats = { graphRequests: 0, armRequests: 0, logsRequests: 0, ingestionRequests: 0, throttled: 0, armThrottled: 0, bytesSent: 0 };
  const ingestion = ingestionModel(options.ingestion?.rules);
  // Rows by table → type → subscription (lower-case; '' for rows without one), built on first use,
  // so that a query over 300 subscriptions of a 100,000-account tenant does not scan every row.
  // Tests add and remove rows between requests: an index is rebuilt when its table's length changed.
  const index = new Map<string, { size: number; byType: Map<string, Map<string, Row[]>> }>();
  /** A table's rows by type → subscription (the index, built or rebuilt as said above). */
  function typeIndex(table: (typeof TABLES)[number]): Map<string, Map<string, Row[]>> {
    rowsByType(table, '');
    return index.get(table)?.byType ?? new Map();
  }
  function rowsByType(table: (typeof TABLES)[number], type: string | undefined): Map<string, Row[]> {
    let byType = index.get(table)?.size === tenant[table].length ? index.get(table)?.byType : undefined;
    if (!byType) {
      byType = new Map();
      lastResult = undefined;
      for (const row of tenant[table] as Row[]) {
        const t = String(row.type ?? '').toLowerCase();
        let bySub = byType.get(t);
        if (!bySub) byType.set(t, (bySub = new Map()));
        const sub = subscriptionOf(row) ?? '';
        const list = bySub.get(sub);
        if (list) list.push(row);
        else bySub.set(sub, [row]);
      }
      index.set(table, { size: tenant[table].length, byType });
    }
    if (type !== undefined) return byType.get(type) ?? new Map();
    const all = new Map<string, Row[]>();
    for (const bySub of byType.values()) for (const [sub, list] of bySub) all.set(sub, [...(all.get(sub) ?? []), ...list]);
    return all;
  }
  // The last query's filtered rows, for its following pages.
  let lastResult: { fingerprint: string; rows: Row[] } | undefined;
  const clock = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  /** Takes one token from a subscription's read bucket; returns the wait (ms) when it is empty. */
  function takeArmToken(sub: string): number | undefined {
    const b = options.armBucket;
    if (!b) return undefined;
    const now = clock();
    const state = buckets.get(sub) ?? { tokens: b.size, at: now };
    state.tokens = Math.min(b.size, state.tokens + ((now - state.at) / 1000) * b.refillPerSecond);
    state.at = now;
    buckets.set(sub, state);
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return undefined;
    }
    return Math.ceil(((1 - state.tokens) / b.refillPerSecond) * 1000);
  }
  const quota = options.quota ?? { limit: 15, windowMs: 5000, enforce: false, retryAfter: true };
  let windowStart = clock();
  let used = 0;

  function quotaHeaders(): { headers: Record<string, string>; exceeded: boolean; resetsInMs: number } {
    const now = clock();
    if (now - windowStart >= quota.windowMs) {
      windowStart = now;
      used = 0;
    }
    used += 1;
    const resetsInMs = windowStart + quota.windowMs - now;
    return {
      headers: {
        'x-ms-user-quota-remaining': String(Math.max(0, quota.limit - used)),
        'x-ms-user-quota-resets-after': formatResetsAfter(resetsInMs),
      },
      exceeded: used > quota.limit,
      resetsInMs,
    };
  }

  function handleGraph(body: Record<string, unknown>): SimulatorResponse {
    const q = quotaHeaders();
    if (quota.enforce && q.exceeded) {
      stats.throttled += 1;
      const headers = {
        ...q.headers,
        ...(quota.retryAfter ? { 'retry-after': String(Math.ceil(q.resetsInMs / 1000)) } : {}),
      };
      return {
        status: 429,
        headers,
        body: { error: { code: 'RateLimiting', message: 'Please provide below info when asking for support' } },
      };
    }
    const query = typeof body.query === 'string' ? body.query : '';
    const parsed = parseGraphQuery(query);
    if (parsed instanceof Error) return { ...armError(400, 'BadRequest', parsed.message), headers: q.headers };
    const { table, filters } = parsed;
    if (!(TABLES as readonly string[]).includes(table)) {
      return { ...armError(400, 'BadRequest', `Table '${table}' is not supported`), headers: q.headers };
    }
    const projection = projectionOf(parsed.project);
    if (projection instanceof Error) return { ...armError(400, 'BadRequest', projection.message), headers: q.headers };
    const subs = Array.isArray(body.subscriptions)
      ? (body.subscriptions as string[]).map((s) => s.toLowerCase())
      : undefined;
    const mgs = Array.isArray(body.managementGroups) ? (body.managementGroups as string[]) : undefined;
    if (subs?.some((s) => forbidden.has(s))) {
      const denied = subs.filter((s) => forbidden.has(s));
      return {
        ...armError(
          403,
          'AuthorizationFailed',
          `The client does not have authorization to perform action over scope '/subscriptions/${denied[0]}'`,
        ),
        headers: q.headers,
      };
    }
    let scopeSubs: Set<string> | undefined;
    if (subs) scopeSubs = new Set(subs);
    else if (mgs)
      scopeSubs = new Set(mgs.flatMap((m) => (tenant.managementGroups[m] ?? []).map((s) => s.toLowerCase())));
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([query, subs, mgs]))
      .digest('hex')
      .slice(0, 16);
    let rows: Row[];
    if (lastResult?.fingerprint === fingerprint) {
      rows = lastResult.rows;
    } else {
      rows = [];
      for (const [type, bySub] of typeIndex(table as (typeof TABLES)[number])) {
        for (const [sub, list] of bySub) {
          if (!filters.every((f) => f(type, sub))) continue;
          if (table === 'resourcecontainers') {
            if (scopeSubs === undefined || (sub !== '' && scopeSubs.has(sub))) rows.push(...list);
            continue;
          }
          if (sub !== '' && forbidden.has(sub)) continue;
          if (scopeSubs === undefined || (sub === '' ? subs === undefined : scopeSubs.has(sub))) rows.push(...list);
        }
      }
      lastResult = { fingerprint, rows };
    }
    const opts = (body.options ?? {}) as Record<string, unknown>;
    const top = Math.min(1000, typeof opts.$top === 'number' ? opts.$top : (options.defaultPageSize ?? 100));
    let offset = 0;
    if (typeof opts.$skipToken === 'string') {
      try {
        const token = JSON.parse(Buffer.from(opts.$skipToken, 'base64url').toString('utf8')) as {
          o: number;
          f: string;
        };
        if (token.f !== fingerprint) throw new Error('token for another query');
        offset = token.o;
      } catch {
        return {
          ...armError(400, 'InvalidSkipToken', 'The skip token is not valid for this query'),
          headers: q.headers,
        };
      }
    }
    let data = rows.slice(offset, offset + top);
    if (projection) data = data.map(projection);
    const next
      = offset + top < rows.length
        ? Buffer.from(JSON.stringify({ o: offset + top, f: fingerprint })).toString('base64url')
        : undefined;
    return {
      status: 200,
      headers: q.headers,
      body: {
        totalRecords: rows.length,
        count: data.length,
        resultTruncated: 'false',
        ...(next ? { $skipToken: next } : {}),
        data,
        facets: [],
      },
    };
  }

  const CONFIGS
    = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.CognitiveServices\/accounts\/([^/]+)\/networkSecurityPerimeterConfigurations(?:\/([^/]+))?$/i;

  const ROLE_ASSIGNMENTS = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.Authorization\/roleAssignments$/i;
  const CHILD_LIST = /^(.*\/networkSecurityPerimeters\/[^/]+(?:\/profiles\/[^/]+)?)\/(resourceAssociations|accessRules)$/i;
  const lower = (v: unknown) => String(v ?? '').toLowerCase();
  let byPrincipal: Map<string, Row[]> | undefined;
  let byPrincipalSize = 0;
  // Lower-case IDs of `resources`, built on first use and again when the table's length changed
  // (tests add rows): a perimeter-configuration read looked through every row (150,000 at 100,000
  // accounts) for its account, the simulator's own cost in a deep-inspection bench.
  let ids: { size: number; set: Set<string> } | undefined;
  function resourceIds(): Set<string> {
    if (ids?.size !== tenant.resources.length) {
      ids = { size: tenant.resources.length, set: new Set(tenant.resources.flatMap((r) => (typeof r.id === 'string' ? [r.id.toLowerCase()] : []))) };
    }
    return ids.set;
  }

  /** Plain ARM reads of the fixture tables: a resource by ID, role assignments by principal, a perimeter's children. */
  function handleArmRead(path: string, url: URL): SimulatorResponse | undefined {
    const subMatch = /^\/subscriptions\/([^/]+)/i.exec(path);
    if (subMatch && forbidden.has(lower(subMatch[1]))) {
      return armError(403, 'AuthorizationFailed', `The client does not have authorization over scope '/subscriptions/${subMatch[1]}'`);
    }
    const settings = diagnosticSettingsAnswer(tenant, path) ?? sqlRoleAssignmentsAnswer(tenant, path);
    if (settings) return settings;
    const ra = ROLE_ASSIGNMENTS.exec(path);
    if (ra) {
      // $filter=principalId eq '{id}': assignments at, above or below the subscription for that principal.
      const principal = /principalId eq '([^']+)'/i.exec(url.searchParams.get('$filter') ?? '')?.[1];
      const sub = lower(ra[1]);
      if (!byPrincipal || byPrincipalSize !== tenant.authorizationresources.length) {
        byPrincipal = new Map();
        byPrincipalSize = tenant.authorizationresources.length;
        for (const row of tenant.authorizationresources) {
          const key = lower(((row.properties ?? {}) as Record<string, unknown>).principalId);
          byPrincipal.set(key, [...(byPrincipal.get(key) ?? []), row]);
        }
      }
      const candidates = principal === undefined ? tenant.authorizationresources : (byPrincipal.get(lower(principal)) ?? []);
      const value = candidates.filter((row) => {
        const props = (row.properties ?? {}) as Record<string, unknown>;
        const scope = lower(props.scope);
        const inScope = scope.startsWith(`/subscriptions/${sub}`) || !scope.startsWith('/subscriptions/');
        return inScope && (principal === undefined || lower(props.principalId) === lower(principal));
      });
      return { status: 200, body: { value } };
    }
    const child = CHILD_LIST.exec(path);
    if (child) {
      const prefix = `${lower(child[1])}/${lower(child[2])}/`;
      return { status: 200, body: { value: tenant.networkresources.filter((row) => lower(row.id).startsWith(prefix) && !lower(row.id).slice(prefix.length).includes('/')) } };
    }
    const key = lower(path);
    const row = [...tenant.resources, ...tenant.networkresources, ...tenant.authorizationresources].find((r) => lower(r.id) === key);
    if (row) return { status: 200, body: row };
    return undefined;
  }

  const ACCOUNT_LIST = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.CognitiveServices\/accounts$/i;

  /** `GET /subscriptions/{sub}/providers/Microsoft.CognitiveServices/accounts`: full rows, paged with `nextLink`. */
  function listAccounts(sub: string, url: URL, baseUrl: string): SimulatorResponse {
    const rows = rowsByType('resources', 'microsoft.cognitiveservices/accounts').get(sub.toLowerCase()) ?? [];
    return armPage(rows, url, baseUrl);
  }

  /** One page of an ARM list (`armPageSize` items) with `nextLink` carrying `$skiptoken` when more remain. */
  function armPage(items: readonly Row[], url: URL, baseUrl: string): SimulatorResponse {
    const pageSize = options.armPageSize ?? 50;
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
    const body: Record<string, unknown> = { value: items.slice(skip, skip + pageSize) };
    if (skip + pageSize < items.length) {
      const next = new URL(url.pathname, baseUrl);
      next.searchParams.set('api-version', url.searchParams.get('api-version') ?? '2024-10-01');
      next.searchParams.set('$skiptoken', String(skip + pageSize));
      body.nextLink = next.toString();
    }
    return { status: 200, body };
  }

  function handleArm(method: string, url: URL, baseUrl: string): SimulatorResponse {
    const path = decodeURIComponent(url.pathname);
    const pathSub = /^\/subscriptions\/([^/]+)/i.exec(path)?.[1]?.toLowerCase();
    if (pathSub !== undefined) {
      const waitMs = takeArmToken(pathSub);
      if (waitMs !== undefined) {
        stats.armThrottled += 1;
        return {
          status: 429,
          headers: { 'retry-after': String(Math.ceil(waitMs / 1000)), 'x-ms-ratelimit-remaining-subscription-reads': '0' },
          body: { error: { code: 'TooManyRequests', message: 'The request is being throttled.' } },
        };
      }
    }
    if (method === 'GET' && /^\/subscriptions\/?$/i.test(path)) {
      // The subscriptions the caller can see (Subscriptions - List).
      const value = tenant.resourcecontainers
        .filter((r) => !forbidden.has(subscriptionOf(r) ?? ''))
        .map((r) => ({ id: r.id, subscriptionId: r.subscriptionId, displayName: r.name, state: 'Enabled', tenantId: r.tenantId }));
      return { status: 200, body: { value } };
    }
    const list = ACCOUNT_LIST.exec(path);
    if (method === 'GET' && list) {
      if (forbidden.has(lower(list[1]))) return armError(403, 'AuthorizationFailed', `The client does not have authorization over scope '/subscriptions/${list[1]}'`);
      return listAccounts(list[1] as string, url, baseUrl);
    }
    const m = CONFIGS.exec(url.pathname);
    if (method === 'GET' && !m) {
      return handleArmRead(path, url) ?? armError(404, 'ResourceNotFound', `The Resource '${path}' was not found.`);
    }
    if (method !== 'GET' || !m) return armError(404, 'NotFound', `No route for ${method} ${url.pathname}`);
    const [sub = '', rg = '', name = '', configName] = m.slice(1).map((part) => (part === undefined ? undefined : decodeURIComponent(part)));
    if (forbidden.has(sub.toLowerCase())) {
      return armError(
        403,
        'AuthorizationFailed',
        `The client does not have authorization over scope '/subscriptions/${sub}'`,
      );
    }
    const accountId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.CognitiveServices/accounts/${name}`;
    const exists = resourceIds().has(accountId.toLowerCase());
    if (!exists)
      return armError(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.CognitiveServices/accounts/${name}' was not found.`,
      );
    const items = tenant.perimeterConfigurations[accountId.toLowerCase()] ?? [];
    if (configName !== undefined) {
      const item = items.find((i) => String(i.name).toLowerCase() === configName.toLowerCase());
      return item
        ? { status: 200, body: item }
        : armError(404, 'NotFound', `Configuration '${configName}' was not found.`);
    }
    return armPage(items, url, baseUrl);
  }

  async function respond(res: ServerResponse, r: SimulatorResponse): Promise<void> {
    if (r.hang) return;
    if (r.delayMs) await delay(r.delayMs);
    if (r.reset) {
      res.socket?.destroy();
      return;
    }
    const text = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    stats.bytesSent += Buffer.byteLength(text);
    if (options.transferBytesPerMs) await delay(Math.round(Buffer.byteLength(text) / options.transferBytesPerMs));
    res.writeHead(r.status, {
      'content-type': 'application/json; charset=utf-8',
      'x-ms-request-id': `sim-${Date.now()}`,
      ...r.headers,
    });
    if (r.stallBody) {
      res.write(text.slice(0, Math.floor(text.length / 2)));
      return;
    }
    res.end(text);
  }

  let baseUrl = '';
  const server: Server = createServer({ key: cert.private, cert: cert.cert }, (req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', baseUrl);
        const bytes = await readBody(req);
        const raw = bytes.toString('utf8');
        if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) {
          await respond(
            res,
            armError(401, 'AuthenticationFailed', 'Authentication failed. The Authorization header is missing.'),
          );
          return;
        }
        const isGraph
          = /^\/providers\/Microsoft\.ResourceGraph\/resources$/i.test(url.pathname) && req.method === 'POST';
        const logsWorkspace = req.method === 'POST' ? LOGS_QUERY_ROUTE.exec(url.pathname)?.[1] : undefined;
        const ingest = req.method === 'POST' ? INGESTION_ROUTE.exec(url.pathname) : null;
        let body: Record<string, unknown> | undefined;
        if (isGraph || logsWorkspace !== undefined) {
          try {
            body = JSON.parse(raw) as Record<string, unknown>;
          } catch {
            // Log Analytics answers a body that is not JSON itself (400 BadArgumentError, accessLogs.ts).
            if (logsWorkspace === undefined) {
              await respond(res, armError(400, 'InvalidRequestContent', 'The request content was invalid'));
              return;
            }
          }
        }
        const kind = isGraph ? 'graph' : logsWorkspace !== undefined ? 'logs' : ingest ? 'ingestion' : 'arm';
        const sequence = kind === 'graph' ? ++stats.graphRequests
          : kind === 'logs' ? ++stats.logsRequests
            : kind === 'ingestion' ? ++stats.ingestionRequests
              : ++stats.armRequests;
        if (options.latencyMs) await delay(options.latencyMs);
        const injected = await options.fault?.({
          kind,
          method: req.method ?? 'GET',
          path: url.pathname,
          search: url.search,
          body,
          sequence,
        });
        if (injected) {
          if (injected.status === 429) stats.throttled += 1;
          await respond(res, injected);
          return;
        }
        if (logsWorkspace !== undefined) {
          await respond(res, logsQueryAnswer(tenant, decodeURIComponent(logsWorkspace), body, clock()));
          return;
        }
        if (ingest) {
          const request = {
            ruleId: decodeURIComponent(ingest[1] ?? ''),
            stream: decodeURIComponent(ingest[2] ?? ''),
            apiVersion: url.searchParams.get('api-version'),
            contentEncoding: req.headers['content-encoding'],
            token: (req.headers.authorization ?? '').replace(/^Bearer\s+/, ''),
            body: bytes,
          };
          await respond(res, ingestionAnswer(ingestion, request, options.ingestion?.acceptToken));
          return;
        }
        await respond(res, isGraph && body ? handleGraph(body) : handleArm(req.method ?? 'GET', url, baseUrl));
      } catch (error) {
        await respond(res, armError(500, 'InternalServerError', (error as Error).message));
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = options.host === '::1' ? `https://[::1]:${port}` : `https://127.0.0.1:${port}`;
  const caFile = join(tmpdir(), `perimeter-auditor-simulator-${port}.pem`);
  await writeFile(caFile, cert.cert, 'utf8');
  return {
    url: baseUrl,
    caCertificate: cert.cert,
    caFile,
    stats,
    ingestion,
    // Its certificate file goes with it: a simulator started for every test or bench run must not leave one behind.
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }).then(() => rm(caFile, { force: true })),
  };
}
