import pLimit, { type LimitFunction } from 'p-limit';
import { type SubscriptionCoverage, TABLES, type TableName, type TableRead } from './inventory.js';
import { GraphQueryError, type ResourceGraphReader, tableQuery } from './resourceGraph.js';
import { kqlString } from './accessLogQuery.js';
import { faultPoint } from '../testing/faults.js';

/**
 * Resource Graph collection for one scan: which subscriptions are in scope, then every table of
 * AZURE-FACTS.md over them.
 *
 * Queries name their subscriptions explicitly, in batches of at most 300 (AZURE-FACTS.md: "keep
 * subscription lists per request under 300"), so a subscription the caller cannot read is found
 * and recorded: a batch refused with 401/403 is split in halves until the refused subscriptions are
 * isolated. A subscription whose accounts cannot be read is `unreadable` in coverage; any other
 * table that fails leaves that table's data unread, which rules turn into `unknown`.
 */

/** What to scan. Both lists empty: the whole tenant. */
export interface ScanScope {
  readonly subscriptions: readonly string[];
  readonly managementGroups: readonly string[];
}

/** Thrown when not even the subscriptions in scope could be listed: the scan cannot run (exit 2). */
export class ScanSetupError extends Error {
  override readonly name = 'ScanSetupError';
}

export const MAX_SUBSCRIPTIONS_PER_QUERY = 300;

/**
 * Queries in flight at once (count). Pacing to the quota (15 per 5 s) is the client's policy; a few
 * queries in flight keep the quota busy while pages are in transit, so the scan's wall time tracks
 * the quota floor (queries ÷ 3 per second) rather than queries × latency.
 */
export const GRAPH_CONCURRENCY = 3;

/** Progress messages (stderr in the CLI, the invocation log in Functions). */
export type ProgressLog = (message: string) => void;

/** Why a subscription could not be read: the error text, and the HTTP status when there was an answer. */
interface ReadFailure {
  readonly reason: string;
  readonly statusCode: number | undefined;
}

interface BatchResult {
  rows: unknown[];
  /** Subscription (lower-case) → why it could not be read. */
  failures: Map<string, ReadFailure>;
  plan: TablePlan;
}

/** Rows per Resource Graph page (AZURE-FACTS.md): what the least number of pages is counted in. */
export const ROWS_PER_PAGE = 1000;

/**
 * One table's reads in the query plan (counts): rows read, pages requested, and the least pages
 * those rows need — Σ over the batches read of max(1, ⌈rows ÷ 1000⌉). Pages above the least are
 * slack (retries, a batch split after a refusal, a batch that failed).
 */
export interface TablePlan {
  readonly type: string;
  rows: number;
  pages: number;
  leastPages: number;
}

/** An empty plan entry for a table type. */
export function tablePlan(type: string): TablePlan {
  return { type, rows: 0, pages: 0, leastPages: 0 };
}

/** Adds one read of `rows` rows that took `pages` pages (`rows` undefined: a failed read, all slack). */
function countRead(plan: TablePlan, rows: number | undefined, pages: number): void {
  plan.pages += pages;
  if (rows === undefined) return;
  plan.rows += rows;
  plan.leastPages += Math.max(1, Math.ceil(rows / ROWS_PER_PAGE));
}

/**
 * `readAll` with its rows and pages counted in `plan`; with `onPage`, each page goes there as it
 * arrives instead (nothing is returned), so a large table is never held whole.
 */
async function readCounted(
  reader: ResourceGraphReader,
  plan: TablePlan,
  query: string,
  scope: Parameters<ResourceGraphReader['readAll']>[1],
  mapRow?: (row: unknown) => unknown,
  onPage?: (rows: readonly unknown[]) => void,
): Promise<unknown[]> {
  const counter = { pages: 0 };
  let rows: number | undefined;
  try {
    if (!onPage) {
      const all = await reader.readAll(query, scope, mapRow, counter);
      rows = all.length;
      return all;
    }
    let n = 0;
    for await (const page of reader.pages(query, scope, mapRow, counter)) {
      n += page.length;
      onPage(page);
    }
    rows = n;
    return [];
  } finally {
    countRead(plan, rows, counter.pages);
  }
}

function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** A refusal of the caller (401, 403), by the answer's status, never by the text of an error. */
function isDenial(statusCode: number | undefined): boolean {
  return statusCode === 401 || statusCode === 403;
}

function failureOf(error: unknown): ReadFailure {
  return { reason: error instanceof Error ? error.message : String(error), statusCode: error instanceof GraphQueryError ? error.statusCode : undefined };
}

/** Options of one table read. */
interface ReadOptions {
  /** Shared limit on queries in flight. */
  readonly limit?: LimitFunction;
  /** Applied to each row as it arrives (e.g. to keep it as JSON text). */
  readonly mapRow?: (row: unknown) => unknown;
  /**
   * Takes the rows of each batch read, in batch order (a batch's rows once every earlier batch's
   * were taken), instead of the result holding them: the result's `rows` stay empty.
   */
  readonly onRows?: (rows: readonly unknown[]) => void;
}

async function readBatch(
  reader: ResourceGraphReader,
  query: string,
  subscriptions: string[],
  out: BatchResult,
  o: ReadOptions,
): Promise<void> {
  try {
    const read = () => readCounted(reader, out.plan, query, { subscriptions }, o.mapRow);
    const rows = await (o.limit ? o.limit(read) : read());
    for (const row of rows) out.rows.push(row);
  } catch (error) {
    const failure = failureOf(error);
    if (isDenial(failure.statusCode) && subscriptions.length > 1) {
      const half = Math.ceil(subscriptions.length / 2);
      await readBatch(reader, query, subscriptions.slice(0, half), out, o);
      await readBatch(reader, query, subscriptions.slice(half), out, o);
      return;
    }
    for (const s of subscriptions) out.failures.set(s.toLowerCase(), failure);
  }
}

/**
 * Runs one query over subscriptions in batches of at most 300, batches concurrently under
 * `o.limit`; rows come back in batch order. Per-subscription failures are returned, not thrown.
 */
async function readBySubscriptions(
  reader: ResourceGraphReader,
  query: string,
  subscriptions: readonly string[],
  plan: TablePlan,
  o: ReadOptions = {},
): Promise<BatchResult> {
  const parts = chunk(subscriptions, MAX_SUBSCRIPTIONS_PER_QUERY)
    .map((batch) => ({ batch, done: false, out: { rows: [], failures: new Map(), plan } as BatchResult }));
  // With `onRows`, each batch's rows are handed over in batch order as soon as the batches before it are.
  let next = 0;
  const handOver = (onRows: (rows: readonly unknown[]) => void) => {
    for (let p = parts[next]; p?.done; p = parts[++next]) {
      if (p.out.rows.length > 0) onRows(p.out.rows);
      p.out.rows = [];
    }
  };
  const { onRows } = o;
  await Promise.all(parts.map(async (p) => {
    await readBatch(reader, query, p.batch, p.out, o);
    p.done = true;
    if (onRows) handOver(onRows);
  }));
  const out: BatchResult = { rows: [], failures: new Map(), plan };
  for (const p of parts) {
    for (const row of p.out.rows) out.rows.push(row);
    for (const [k, v] of p.out.failures) out.failures.set(k, v);
  }
  return out;
}

function subscriptionIdOf(row: unknown): { id: string; name?: string } | undefined {
  if (typeof row !== 'object' || row === null) return undefined;
  const r = row as Record<string, unknown>;
  if (typeof r.type === 'string' && r.type.toLowerCase() !== TABLES.subscriptions.type) return undefined;
  const fromColumn = typeof r.subscriptionId === 'string' ? r.subscriptionId : undefined;
  const fromId = typeof r.id === 'string' ? /^\/subscriptions\/([^/]+)$/i.exec(r.id)?.[1] : undefined;
  const id = fromColumn || fromId;
  if (!id) return undefined;
  return typeof r.name === 'string' ? { id, name: r.name } : { id };
}

/**
 * Lists the subscriptions in scope: the named subscriptions and every subscription under the named
 * management groups (the union; README "Scanning a real tenant"). Neither named: every subscription
 * the caller can read.
 *
 * A named subscription that cannot be found or read is listed `unreadable` with the reason; a named
 * management group under which no subscription is visible is a setup error naming it, since a typo
 * must not become a `complete` scan of nothing.
 * @throws ScanSetupError when the listing itself fails, or a named management group lists nothing
 */
async function discoverSubscriptions(reader: ResourceGraphReader, scope: ScanScope, plan: TablePlan): Promise<SubscriptionCoverage[]> {
  const query = tableQuery(TABLES.subscriptions);
  const coverage = new Map<string, SubscriptionCoverage>();
  const add = (s: SubscriptionCoverage) => {
    if (!coverage.has(s.id.toLowerCase())) coverage.set(s.id.toLowerCase(), s);
  };
  if (scope.subscriptions.length > 0) {
    const found = new Map<string, { id: string; name?: string }>();
    const result = await readBySubscriptions(reader, query, scope.subscriptions, plan);
    for (const row of result.rows) {
      const s = subscriptionIdOf(row);
      if (s) found.set(s.id.toLowerCase(), s);
    }
    const failed = [...result.failures.values()];
    // Every named subscription failed and none was refused: the listing itself failed.
    if (found.size === 0 && failed.length === scope.subscriptions.length && !failed.some((f) => isDenial(f.statusCode))) {
      throw new ScanSetupError(`cannot list subscriptions: ${failed[0]?.reason ?? 'unknown error'}`);
    }
    for (const original of scope.subscriptions) {
      const key = original.toLowerCase();
      const hit = found.get(key);
      if (hit) add({ id: hit.id, ...(hit.name ? { name: hit.name } : {}), status: 'read' });
      else
        add({
          id: original,
          status: 'unreadable',
          reason: result.failures.get(key)?.reason ?? 'not found, or not visible to the caller (no Reader role on it)',
        });
    }
  }
  const setup = async <T>(what: string, list: () => Promise<T>): Promise<T> => {
    try {
      return await list();
    } catch (error) {
      throw new ScanSetupError(`cannot list subscriptions${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  for (const group of scope.managementGroups) {
    const rows = await setup(` of management group '${group}'`, () => subscriptionsUnder(reader, group, plan));
    if (rows.length === 0)
      throw new ScanSetupError(`management group '${group}' not found or not visible (no subscription under it is visible to the caller)`);
    for (const s of rows) add({ id: s.id, ...(s.name ? { name: s.name } : {}), status: 'read' });
  }
  if (scope.subscriptions.length === 0 && scope.managementGroups.length === 0) {
    for (const row of await setup('', () => readCounted(reader, plan, query, {}))) {
      const s = subscriptionIdOf(row);
      if (s) add({ id: s.id, ...(s.name ? { name: s.name } : {}), status: 'read' });
    }
  }
  return [...coverage.values()];
}

/**
 * Stops a scan that could read no subscription of those in scope: it would have no account to
 * judge, and "0 accounts" is not "compliant". Nothing is committed; the previous scan stays current.
 * @throws ScanSetupError naming how many subscriptions were in scope and why the first could not be read
 */
export function requireReadable(coverage: readonly SubscriptionCoverage[]): void {
  if (coverage.length === 0 || coverage.some((s) => s.status === 'read')) return;
  const first = coverage[0];
  throw new ScanSetupError(
    `no subscription could be read: 0 of ${coverage.length} in scope, so no account was read (${first?.id}: ${first?.reason ?? 'unreadable'}${coverage.length > 1 ? `; and ${coverage.length - 1} more` : ''})`,
  );
}

function failureText(failures: Map<string, ReadFailure>): string | undefined {
  if (failures.size === 0) return undefined;
  const [first] = failures;
  const [sub, { reason }] = first ?? ['', { reason: '' }];
  return failures.size === 1
    ? `subscription ${sub}: ${reason}`
    : `${failures.size} subscriptions, e.g. ${sub}: ${reason}`;
}

/** The subscriptions visible under one management group (one listing each, so an empty one can be named). */
export async function subscriptionsUnder(reader: ResourceGraphReader, group: string, plan?: TablePlan): Promise<Array<{ id: string; name?: string }>> {
  const query = tableQuery(TABLES.subscriptions);
  const rows = plan ? await readCounted(reader, plan, query, { managementGroups: [group] }) : await reader.readAll(query, { managementGroups: [group] });
  return rows.map(subscriptionIdOf).filter((s) => s !== undefined);
}

/** Lower-case IDs of the excluded subscriptions, those under an excluded management group included. */
async function excludedSubscriptions(reader: ResourceGraphReader, exclude: ScanScope, log: ProgressLog, plan: TablePlan): Promise<Set<string>> {
  const excluded = new Set(exclude.subscriptions.map((s) => s.toLowerCase()));
  for (const group of exclude.managementGroups) {
    const under = await subscriptionsUnder(reader, group, plan);
    for (const s of under) excluded.add(s.id.toLowerCase());
    // Excluding nothing scans more than asked, never less: a warning, not a stop.
    if (under.length === 0) log(`warning: the policy excludes management group '${group}', but no subscription under it is visible (a typo?)`);
  }
  return excluded;
}

/** The tables other than accounts: what account rows are joined with (inventory.ts). */
export type ContextTables = Readonly<Record<Exclude<TableName, 'subscriptions' | 'accounts'>, TableRead>>;

/**
 * Takes a context table's rows as they are read (a batch or a page at a time; per table in the
 * order the tables would hold them), so that the caller can index them and drop them: the tables
 * `collectContext` then returns hold no rows, only their failures.
 */
export type ContextRows = (table: keyof ContextTables, rows: readonly unknown[]) => void;

/**
 * Most subscription IDs in the `in~` list of one scope-level role-assignment query (count): as many
 * as a request names (AZURE-FACTS.md, "keep subscription lists per request under 300"), which keeps
 * the query text near 13 KB.
 */
export const MAX_SUBSCRIPTIONS_IN_FILTER = MAX_SUBSCRIPTIONS_PER_QUERY;

/**
 * The scope-level role-assignment queries (run at each named management group, or the tenant): only
 * the rows the per-subscription batches did not read — those of no subscription (management-group
 * or tenant-root scope, `isempty(subscriptionId)`) and those of `notRead`, the subscriptions of the
 * scope the batches left out (excluded by the policy, unreadable): an identity's role there still
 * grants it access. Without that filter the query returned every subscription's rows a second time.
 *
 * A long `notRead` list is split over several queries of at most MAX_SUBSCRIPTIONS_IN_FILTER IDs,
 * the first of which also takes the rows of no subscription (so no row is read twice); splitting
 * rather than falling back to an unfiltered read, since each extra query reads only rows not yet read.
 */
export function scopeLevelRoleAssignmentQueries(notRead: readonly string[]): string[] {
  const spec = TABLES.roleAssignments;
  const query = (where: string) => `${spec.table} | where type =~ ${kqlString(spec.type)} | where ${where} | project ${spec.project}`;
  const inList = (ids: readonly string[]) => `subscriptionId in~ (${ids.map(kqlString).join(', ')})`;
  const parts = chunk(notRead, MAX_SUBSCRIPTIONS_IN_FILTER);
  if (parts.length === 0) return [query('isempty(subscriptionId)')];
  return parts.map((ids, i) => query(i === 0 ? `isempty(subscriptionId) or ${inList(ids)}` : inList(ids)));
}

/** Told when a context table has been read (whether fully: `failure`), and over which subscriptions. */
export type ContextTableRead = (
  table: keyof ContextTables,
  failure: string | undefined,
  over: { readonly readable: readonly string[]; readonly tenantWide: boolean },
) => void;

/**
 * Reads every context table over `readable` subscriptions (and scope-level role assignments: those
 * of no subscription and of `notRead`, the subscriptions of the scope not read here);
 * `done` holds tables already read (the storage-account probe), which are not read again.
 */
async function readContextTables(
  reader: ResourceGraphReader,
  scope: ScanScope,
  readable: readonly string[],
  notRead: readonly string[],
  limit: LimitFunction,
  log: ProgressLog,
  plans: Record<keyof ContextTables, TablePlan>,
  done: Partial<Record<keyof ContextTables, BatchResult>> = {},
  onRows?: ContextRows,
  onTableRead?: ContextTableRead,
): Promise<ContextTables> {
  const tables: Partial<Record<Exclude<TableName, 'subscriptions' | 'accounts'>, TableRead>> = {};
  // Assigned in a fixed order (not as queries finish) so coverage lists the tables the same way every time.
  for (const name of OTHER_TABLES) tables[name] = { rows: [] };
  const readableKeys = new Set(readable.map((s) => s.toLowerCase()));
  await Promise.all(
    contextReads().map(async (read) => {
      const [name] = read.names;
      if (name === undefined) return;
      const { query } = read;
      const earlier = read.names.length === 1 ? done[name] : undefined;
      const counts = new Map<ContextTableName, number>();
      const split = (rows: readonly unknown[]) => {
        const by = rowsByTable(read, rows);
        for (const [n, list] of by) counts.set(n, (counts.get(n) ?? 0) + list.length);
        return by;
      };
      const take = onRows ? (rows: readonly unknown[]) => split(rows).forEach((list, n) => list.length > 0 && onRows(n, list)) : undefined;
      const result = earlier
        ? { ...earlier, failures: new Map([...earlier.failures].filter(([s]) => readableKeys.has(s))) }
        : await readBySubscriptions(reader, query, readable, plans[name], { limit, ...(take ? { onRows: take } : {}) });
      let failure = failureText(result.failures);
      // Role assignments at management-group or tenant-root scope are not returned by a
      // subscription-scoped query; read them at the scope's own level too: at each named
      // management group (also when subscriptions are named beside it), or the tenant when none is
      // named — only the rows the batches above did not read (scopeLevelRoleAssignmentQueries).
      const tenantScope = scope.subscriptions.length === 0 && scope.managementGroups.length === 0;
      if (name === 'roleAssignments' && (scope.managementGroups.length > 0 || tenantScope)) {
        const where = scope.managementGroups.length > 0 ? { managementGroups: scope.managementGroups } : {};
        // One after another, so the rows reach `onRows` in the same order every time.
        for (const atScopeQuery of scopeLevelRoleAssignmentQueries(notRead)) {
          try {
            const atScope = await limit(() => readCounted(reader, plans[name], atScopeQuery, where, undefined, take));
            for (const row of atScope) result.rows.push(row);
          } catch (error) {
            // The table is then not fully read, so none of its lookups is trusted: the rest need not be read.
            failure ??= `scope-level role assignments: ${error instanceof Error ? error.message : String(error)}`;
            break;
          }
        }
      }
      if (read.names.length === 1) {
        tables[name] = failure === undefined ? { rows: result.rows } : { rows: result.rows, failure };
        log(`${read.type}: ${plans[name].rows} row(s)${failure ? ` (not fully read: ${failure})` : ''}`);
        onTableRead?.(name, failure, { readable, tenantWide: false });
        return;
      }
      const by = split(result.rows);
      for (const n of read.names) {
        const rows = by.get(n) ?? [];
        tables[n] = failure === undefined ? { rows } : { rows, failure };
        log(`${TABLES[n].type}: ${counts.get(n) ?? 0} row(s)${failure ? ` (not fully read: ${failure})` : ''}`);
      }
      for (const n of read.names) onTableRead?.(n, failure, { readable, tenantWide: false });
    }),
  );
  return tables as ContextTables;
}

/**
 * The first half of a fanned-out scan (the planner's): the subscriptions in scope and the context
 * tables over them, without accounts. A subscription refused (401/403) on the first context table is
 * `unreadable` and left out of the others, as the account query does in `collectInventory`.
 * With `sink.onRows`, the tables' rows go there as they are read and the tables returned hold none
 * (their row counts are in the query plan); `sink.onScope` is told how many subscriptions are in
 * scope before any context row is read (0 for a tenant-wide read); `sink.onTableRead` is told as
 * each context table is read (all its rows handed to `onRows`), so work that needs only some tables
 * can start while the others are still being read.
 * @throws ScanSetupError when the subscriptions in scope cannot be listed.
 */
export async function collectContext(
  reader: ResourceGraphReader,
  scope: ScanScope,
  log: ProgressLog,
  exclude: ScanScope = { subscriptions: [], managementGroups: [] },
  sink: { readonly onRows?: ContextRows; readonly onScope?: (subscriptionsInScope: number) => void; readonly onTableRead?: ContextTableRead } = {},
): Promise<{ subscriptions: SubscriptionCoverage[]; tables: ContextTables; tenantWide: boolean; queryPlan: TablePlan[] }> {
  const subscriptionPlan = tablePlan(TABLES.subscriptions.type);
  const reads = contextReads();
  // One plan entry a query: the tables read together share theirs.
  const plans = {} as Record<keyof ContextTables, TablePlan>;
  const readPlans = reads.map((r) => tablePlan(r.type));
  reads.forEach((r, i) => {
    for (const name of r.names) plans[name] = readPlans[i] as TablePlan;
  });
  const queryPlan = [subscriptionPlan, ...readPlans];
  const excluded = await excludedSubscriptions(reader, exclude, log, subscriptionPlan);
  const discovered = await discoverSubscriptions(reader, scope, subscriptionPlan);
  if (scope.subscriptions.length === 0 && scope.managementGroups.length === 0 && discovered.length === 0 && excluded.size === 0) {
    // No subscription rows (a source without resourcecontainers): read every table tenant-wide.
    log('no subscriptions listed by resourcecontainers; reading every table at tenant scope');
    sink.onScope?.(0);
    const tables: Partial<Record<keyof ContextTables, TableRead>> = {};
    const { onRows } = sink;
    for (const read of reads) {
      const [first] = read.names;
      if (first === undefined) continue;
      try {
        const take = onRows ? (rows: readonly unknown[]) => rowsByTable(read, rows).forEach((list, name) => list.length > 0 && onRows(name, list)) : undefined;
        const by = rowsByTable(read, await readCounted(reader, plans[first], read.query, {}, undefined, take));
        for (const name of read.names) tables[name] = { rows: by.get(name) ?? [] };
      } catch (error) {
        for (const name of read.names) tables[name] = { rows: [], failure: error instanceof Error ? error.message : String(error) };
      }
      for (const name of read.names) sink.onTableRead?.(name, tables[name]?.failure, { readable: [], tenantWide: true });
    }
    return { subscriptions: [], tables: tables as ContextTables, tenantWide: true, queryPlan };
  }
  const subscriptions = discovered.filter((s) => !excluded.has(s.id.toLowerCase()));
  if (excluded.size > 0) log(`policy excludes ${excluded.size} subscription(s)`);
  log(`scope: ${subscriptions.length} subscription(s)`);
  const { onRows } = sink;
  if (subscriptions.length === 0)
    throw new ScanSetupError(discovered.length === 0 ? 'no subscription is visible to the caller' : `no subscription in scope: all ${discovered.length} subscription(s) found are excluded by the policy`);
  sink.onScope?.(subscriptions.length);
  const limit = pLimit(GRAPH_CONCURRENCY);
  // The storage-account table is read first, over every subscription: a refusal there makes the
  // subscription unreadable for the rest of the scan; its rows are the table (not read twice).
  const listed = subscriptions.filter((s) => s.status === 'read').map((s) => s.id);
  const probeRows = onRows ? { onRows: (rows: readonly unknown[]) => onRows('storageAccounts', rows) } : {};
  const probe = await readBySubscriptions(reader, tableQuery(TABLES.storageAccounts), listed, plans.storageAccounts, { limit, ...probeRows });
  const coverage = subscriptions.map((s) => {
    const failure = probe.failures.get(s.id.toLowerCase());
    return failure !== undefined && isDenial(failure.statusCode) ? { ...s, status: 'unreadable' as const, reason: failure.reason } : s;
  });
  requireReadable(coverage);
  const readable = coverage.filter((s) => s.status === 'read').map((s) => s.id);
  // The subscriptions of the scope whose rows the batches do not read (excluded by the policy, named
  // but not found, refused): the scope-level role-assignment read names them. Discovery listed them at
  // the same scope as that read, with the same caller, so no subscription it returns rows of is missed.
  const readableKeys = new Set(readable.map((s) => s.toLowerCase()));
  const notRead = [...new Set(discovered.map((s) => s.id.toLowerCase()))].filter((s) => !readableKeys.has(s));
  const tables = await readContextTables(reader, scope, readable, notRead, limit, log, plans, { storageAccounts: probe }, onRows, sink.onTableRead);
  return { subscriptions: coverage, tables, tenantWide: false, queryPlan };
}

/** What a shard does with the account pages of one batch of subscriptions (collectAccounts). */
export interface AccountBatchSink {
  /** Works on one page of rows (JSON text); the next page is requested meanwhile. */
  page(rows: readonly unknown[]): Promise<void>;
  /** The batch was read to its end: keep what was made of its pages. */
  keep(): Promise<void>;
  /** The batch's read failed (or was split after a refusal): discard what was made of its pages. */
  discard(): Promise<void>;
}

/** What `collectAccounts` read. */
export interface AccountsRead {
  /** The shard's subscriptions: `read`, or `unreadable` with the reason their accounts could not be read. */
  readonly subscriptions: SubscriptionCoverage[];
  readonly plan: TablePlan;
  /** The most account rows held at once (count): the page being worked on and the one being requested. */
  readonly peakRows: number;
}

/**
 * The second half (a shard's): the account rows of `subscriptions` (at most 300 a batch), streamed a
 * page at a time to the batch's sink, the next page requested while the sink works on the current
 * one, so memory holds two pages of accounts however large the shard. A batch refused (401/403) on
 * its first page is split in halves (its sink discarded) until the refused subscriptions are
 * isolated; a batch that fails after some pages were handed over is discarded whole and its
 * subscriptions are `unreadable`, so no verdict stands on a half-read subscription.
 * @throws what a sink throws (a file system error); ScanSetupError for a tenant-wide read that fails
 */
export async function collectAccounts(
  reader: ResourceGraphReader,
  subscriptions: readonly string[],
  o: { log: ProgressLog; tenantWide?: boolean; batch: (subscriptions: readonly string[]) => AccountBatchSink },
): Promise<AccountsRead> {
  const plan = tablePlan(TABLES.accounts.type);
  let held = 0;
  let peakRows = 0;
  const hold = (n: number) => {
    held += n;
    peakRows = Math.max(peakRows, held);
  };
  const work = async (sink: AccountBatchSink, rows: readonly unknown[]) => {
    try {
      await sink.page(rows);
    } finally {
      held -= rows.length;
    }
  };
  if (o.tenantWide) {
    const read = await collectAccountsTenantWide(reader, plan);
    const sink = o.batch(read.subscriptions.map((s) => s.id));
    for (let i = 0; i < read.rows.length; i += ROWS_PER_PAGE) {
      const page = read.rows.slice(i, i + ROWS_PER_PAGE);
      hold(page.length);
      await work(sink, page);
    }
    await sink.keep();
    return { subscriptions: read.subscriptions, plan, peakRows };
  }
  const query = tableQuery(TABLES.accounts);
  const failures = new Map<string, ReadFailure>();
  const readStreaming = async (batch: readonly string[]): Promise<void> => {
    const counter = { pages: 0 };
    const sink = o.batch(batch);
    const pages = reader.pages(query, { subscriptions: batch }, (row) => JSON.stringify(row), counter)[Symbol.asyncIterator]();
    const next = () => {
      const p = pages.next();
      p.then((r) => void (r.done ? undefined : hold(r.value.length)), () => undefined);
      return p;
    };
    let pending = next();
    let delivered = false;
    let rows = 0;
    for (;;) {
      let r: IteratorResult<unknown[]>;
      try {
        r = await pending;
      } catch (error) {
        countRead(plan, undefined, counter.pages);
        await sink.discard();
        const failure = failureOf(error);
        if (!delivered && isDenial(failure.statusCode) && batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          await readStreaming(batch.slice(0, half));
          await readStreaming(batch.slice(half));
          return;
        }
        for (const s of batch) failures.set(s.toLowerCase(), failure);
        return;
      }
      if (r.done) break;
      pending = next();
      if (!delivered) faultPoint('collection');
      delivered = true;
      rows += r.value.length;
      await work(sink, r.value);
    }
    countRead(plan, rows, counter.pages);
    await sink.keep();
  };
  for (const batch of chunk(subscriptions, MAX_SUBSCRIPTIONS_PER_QUERY)) await readStreaming(batch);
  const coverage = subscriptions.map((id): SubscriptionCoverage => {
    const failure = failures.get(id.toLowerCase());
    return failure === undefined ? { id, status: 'read' } : { id, status: 'unreadable', reason: failure.reason };
  });
  o.log(`accounts: ${plan.rows} row(s) in ${plan.pages} page(s); ${failures.size} subscription(s) unreadable`);
  return { subscriptions: coverage, plan, peakRows };
}

/**
 * Context tables read by one query: the same Resource Graph table and projection, the rows told
 * apart by `type`. The Cosmos DB accounts and the Search services are a few rows each, and each
 * would otherwise cost a page of its own per subscription batch (issue 17: 2 queries fewer at
 * 10,000 accounts in 500 subscriptions, 17 at 100,000 in 5,000).
 */
export const READ_TOGETHER = ['cosmosAccounts', 'searchServices'] as const;

/** The query of the tables read together: `resources | where type =~ '…' or type =~ '…' | project id, type, subscriptionId`. */
export function readTogetherQuery(): string {
  const [first] = READ_TOGETHER;
  const spec = TABLES[first];
  return `${spec.table} | where ${READ_TOGETHER.map((name) => `type =~ ${kqlString(TABLES[name].type)}`).join(' or ')} | project ${spec.project}`;
}

/** One Resource Graph query of the context: the tables it fills, its text and its query-plan entry's type. */
interface ContextRead {
  readonly names: readonly ContextTableName[];
  readonly query: string;
  readonly type: string;
}

type ContextTableName = Exclude<TableName, 'subscriptions' | 'accounts'>;

/** The context's queries, in OTHER_TABLES order: one per table, and one for the tables read together. */
function contextReads(): ContextRead[] {
  const together = new Set<ContextTableName>(READ_TOGETHER);
  const reads: ContextRead[] = [];
  for (const name of OTHER_TABLES) {
    if (!together.has(name)) reads.push({ names: [name], query: tableQuery(TABLES[name]), type: TABLES[name].type });
    else if (name === READ_TOGETHER[0]) reads.push({ names: READ_TOGETHER, query: readTogetherQuery(), type: READ_TOGETHER.map((n) => TABLES[n].type).join(', ') });
  }
  return reads;
}

/**
 * Splits one query's rows into its tables by `type` (case-insensitive). A row of no type asked for
 * is left out, as the normalizer leaves out a row of another type in a table of its own (a source
 * that ignores the query's filter changes nothing).
 */
function rowsByTable(read: ContextRead, rows: readonly unknown[]): Map<ContextTableName, unknown[]> {
  const [only] = read.names;
  if (read.names.length === 1 && only !== undefined) return new Map([[only, [...rows]]]);
  const tables = new Map<ContextTableName, unknown[]>(read.names.map((n) => [n, []]));
  for (const row of rows) {
    const type = typeof row === 'object' && row !== null ? (row as { type?: unknown }).type : undefined;
    const name = typeof type === 'string' ? read.names.find((n) => TABLES[n].type === type.toLowerCase()) : undefined;
    if (name !== undefined) tables.get(name)?.push(row);
  }
  return tables;
}

const OTHER_TABLES: ReadonlyArray<ContextTableName> = [
  'storageAccounts',
  'associations',
  'accessRules',
  'roleAssignments',
  'cosmosAccounts',
  'searchServices',
];

/**
 * The accounts at tenant scope (a source that lists no subscription); coverage lists the
 * subscriptions the account rows come from.
 * @throws ScanSetupError when the accounts cannot be read or there are none
 */
async function collectAccountsTenantWide(reader: ResourceGraphReader, plan: TablePlan): Promise<{ subscriptions: SubscriptionCoverage[]; rows: unknown[] }> {
  let accountRows: unknown[];
  try {
    accountRows = await readCounted(reader, plan, tableQuery(TABLES.accounts), {}, (row) => JSON.stringify(row));
  } catch (error) {
    throw new ScanSetupError(`cannot read accounts at tenant scope: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (accountRows.length === 0)
    throw new ScanSetupError('no subscription is visible to the caller and no account was found at tenant scope: give the identity Reader on the tenant root group, a management group or the subscriptions to scan');
  faultPoint('collection');
  const seen = new Map<string, string>();
  for (const text of accountRows) {
    const row = JSON.parse(text as string) as unknown;
    const id = typeof row === 'object' && row !== null ? (row as Record<string, unknown>).id : undefined;
    const sub = typeof id === 'string' ? /^\/subscriptions\/([^/]+)\//i.exec(id)?.[1] : undefined;
    if (sub && !seen.has(sub.toLowerCase())) seen.set(sub.toLowerCase(), sub);
  }
  return { subscriptions: [...seen.values()].map((id) => ({ id, status: 'read' as const })), rows: accountRows };
}
