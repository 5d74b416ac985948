import type { AzureClients } from '../collect/clients.js';
import { collectContext, type ContextTables, MAX_SUBSCRIPTIONS_PER_QUERY, type ProgressLog, type TablePlan } from '../collect/collector.js';
import { type SubscriptionCoverage, TABLES, type TableRead } from '../collect/inventory.js';
import { ContextIndexer, type PreparedTenant } from '../collect/normalize.js';
import { describePolicy, type Policy, policyFrom } from '../config/policy.js';
import { collectAccessLogs, readinessTargets } from '../collect/accessLogs.js';
import { parseResourceId } from '../domain/resourceId.js';
import type { AccessLogReading, CloudName, CosmosRoleAssignments } from '../domain/snapshot.js';
import { collectCosmosRoleAssignments } from '../collect/cosmosRoleAssignments.js';
import type { Indexes } from '../collect/normalize.js';
import { ResourceGroupFilter, type ScopeSpec } from './scope.js';

/**
 * Step 2 of the pipeline (docs/architecture.md): the plan of one scan. The subscriptions in scope
 * and the context tables (associations, access rules, role assignments, storage accounts: what
 * account rows are joined with, wherever they live) are read once; the readable subscriptions are
 * cut into shards of at most 300 (one account query each, AZURE-FACTS.md). The plan fixes what every
 * shard evaluates under — the policy (written out whole) and deep inspection — so an edit of
 * `POLICY_BLOB` while a fanned-out scan runs cannot split it across two policies.
 */

/** Request counts of a step (counts). */
export interface RequestCounts {
  readonly graphPages: number;
  readonly graphRequests: number;
  readonly armRequests: number;
  readonly throttled: number;
}

/** The plan of a scan; stored as `scans/{scanId}/shards/plan.json` when the scan fans out. */
export interface ScanPlan {
  readonly schemaVersion: 2;
  readonly scanId: string;
  /** When its reads started (ISO 8601): the scan's `startedAt`, and the `at` of the states it writes. */
  readonly startedAt: string;
  readonly scope: ScopeSpec;
  readonly deepInspection: boolean;
  /**
   * True when Resource Graph listed no subscription for a tenant scan: one shard reads the accounts at
   * tenant scope, and coverage lists the subscriptions their rows come from.
   */
  readonly tenantWide: boolean;
  /** The policy as a document (config/policy.ts `describePolicy`); `planPolicy` reads it back. */
  readonly policy: Record<string, unknown>;
  /** Every subscription in scope, in discovery order; those the plan could not read are `unreadable`. */
  readonly subscriptions: readonly SubscriptionCoverage[];
  readonly shards: ReadonlyArray<{ readonly index: number; readonly subscriptions: readonly string[] }>;
  /** Each context table's rows read (count) and why it was not fully read, if it was not. */
  readonly contextTables: ReadonlyArray<{ readonly type: string; readonly rows: number; readonly failure?: string }>;
  /** The subscription listing's and the context tables' rows, pages and least pages (collector.ts `TablePlan`). */
  readonly queryPlan: readonly TablePlan[];
  readonly requests: RequestCounts;
  /** The cloud scanned (the data sources' FQDN suffixes, ID-04); absent in plans made before it existed (public). */
  readonly cloud?: CloudName;
}

/** A plan and the context its shards evaluate against. */
export interface PlannedScan {
  readonly plan: ScanPlan;
  /** The context tables indexed as their rows arrived (normalize.ts `ContextIndexer`), for shards run in this process. */
  readonly prepared: PreparedTenant;
  /**
   * The context tables' raw rows, for shards run elsewhere (stored as `context.json` by a fan-out);
   * only when the plan was asked to keep them (`keepContext`), since at 100,000 accounts they are
   * several times the size of the indexes.
   */
  readonly context?: ContextTables;
  /**
   * The perimeters' access logs (NSP-07), read once per scan for the accounts in scope whose
   * effective access mode is Learning: lower-case account ID → reading (also in `prepared`). Empty
   * when deep inspection is off or NSP-07 is disabled. A fan-out stores it as `accessLogs.json`.
   */
  readonly accessLogs: Readonly<Record<string, AccessLogReading>>;
  /**
   * The Cosmos DB data-plane role assignments (ID-02, ID-04), read once per scan (also in
   * `prepared.tenant`). A fan-out stores it as `cosmosRoleAssignments.json`.
   */
  readonly cosmosRoleAssignments: CosmosRoleAssignments;
}

/**
 * Whether the Cosmos DB step is needed: some account in scope may be an associated account with a
 * managed identity (ID-02/ID-04 apply only to those). The plan has no account rows, so this is
 * decided from the associations: a `Succeeded` association of a Cognitive Services account in
 * scope, or association data that could not be read (any account may be associated).
 */
export function cosmosStepNeeded(associations: Indexes['associations'], associationsUnread: boolean, inScope: (accountId: string) => boolean): boolean {
  // A key no resource has answers unread only when the whole table is (a failed read, or a malformed row naming no resource).
  if (associationsUnread || !associations.get('').ok) return true;
  for (const a of associations.all()) {
    if (a.provisioningState.toLowerCase() !== 'succeeded') continue;
    if (/\/providers\/microsoft\.cognitiveservices\/accounts\/[^/]+$/i.test(a.resourceId) && inScope(a.resourceId)) return true;
  }
  return false;
}

/** The request counters of clients now (they may serve several scans: count deltas). */
export function requestCounters(clients: AzureClients): RequestCounts {
  return {
    graphPages: clients.graph.requested,
    graphRequests: clients.graphStats.requests,
    armRequests: clients.armStats.requests,
    throttled: clients.graphStats.throttled + clients.armStats.throttled,
  };
}

/** `after − before`. */
export function requestDelta(after: RequestCounts, before: RequestCounts): RequestCounts {
  return {
    graphPages: after.graphPages - before.graphPages,
    graphRequests: after.graphRequests - before.graphRequests,
    armRequests: after.armRequests - before.armRequests,
    throttled: after.throttled - before.throttled,
  };
}

/** The sum of several counts. */
export function sumRequests(counts: readonly RequestCounts[]): RequestCounts {
  const sum = (key: keyof RequestCounts) => counts.reduce((n, c) => n + c[key], 0);
  return { graphPages: sum('graphPages'), graphRequests: sum('graphRequests'), armRequests: sum('armRequests'), throttled: sum('throttled') };
}

/**
 * Reads the scope and context of a scan and cuts it into shards.
 * @throws ScanSetupError when the subscriptions in scope cannot be listed or none is readable
 */
export async function planScan(o: {
  scanId: string;
  scope: ScopeSpec;
  policy: Policy;
  deepInspection: boolean;
  clients: AzureClients;
  log: ProgressLog;
  startedAt: Date;
  /** The cloud scanned (FQDN suffixes of data sources). Default `AzureCloud`. */
  cloud?: CloudName;
  /**
   * Whether the raw rows are kept (`PlannedScan.context`), given the subscriptions in scope: a
   * caller that fans out above a number of subscriptions keeps them then. Default: always.
   */
  keepContext?: (subscriptionsInScope: number) => boolean;
}): Promise<PlannedScan> {
  const before = requestCounters(o.clients);
  const indexer = new ContextIndexer();
  const groups = new ResourceGroupFilter(o.scope);
  /** Whether an account is in scope, given the subscriptions read (`readable`, unless the read was tenant-wide). */
  const inScopeOf = (readable: readonly string[], tenantWide: boolean) => {
    const subscriptionsInScope = new Set(readable.map((s) => s.toLowerCase()));
    return (accountId: string) => {
      const id = parseResourceId(accountId);
      if (!id) return false;
      if (!tenantWide && !subscriptionsInScope.has(id.subscriptionId.toLowerCase())) return false;
      return groups.has({ subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup });
    };
  };
  // Cosmos DB data-plane role assignments (ID-02, ID-04): once per scan, over every Cosmos DB account
  // of the inventory (a data source may live in any subscription read), only when an account they
  // concern may be in scope (src/collect/cosmosRoleAssignments.ts). Its ARM reads need only the Cosmos
  // DB accounts and the associations: they start as soon as both tables are read, while Resource
  // Graph still pages the others (the role assignments last), and are awaited once the plan needs them.
  let cosmosStep: Promise<CosmosRoleAssignments> | undefined;
  const tablesRead = new Map<keyof ContextTables, string | undefined>();
  const startCosmosStep = (inScope: (accountId: string) => boolean): Promise<CosmosRoleAssignments> => {
    const cosmosFailure = tablesRead.get('cosmosAccounts');
    if (cosmosFailure !== undefined) return Promise.resolve({ assignments: [], unreadable: {}, notRead: `the Cosmos DB accounts could not be read (${cosmosFailure})` });
    const cosmosAccountIds = indexer.cosmosAccountIdsSoFar();
    if ((o.policy.enabledRules.has('ID-02') || o.policy.enabledRules.has('ID-04')) && cosmosAccountIds.length > 0
      && cosmosStepNeeded(indexer.associationsSoFar(), tablesRead.get('associations') !== undefined, inScope)) {
      return collectCosmosRoleAssignments(cosmosAccountIds, { arm: o.clients.arm, log: o.log });
    }
    return Promise.resolve({ assignments: [], unreadable: {} });
  };
  // Rows read by table (count): the tables read together (collector.ts READ_TOGETHER) share a query-plan entry.
  const rowsRead = new Map<keyof ContextTables, number>();
  // Decided when the subscriptions in scope are known, before any context row is read.
  let raw: Partial<Record<keyof ContextTables, unknown[]>> | undefined;
  const { subscriptions, tables, tenantWide, queryPlan } = await collectContext(o.clients.graph, o.scope.include, o.log, o.scope.exclude, {
    onScope: (inScope) => {
      if (o.keepContext === undefined || o.keepContext(inScope)) raw = {};
    },
    onRows: (table, rows) => {
      rowsRead.set(table, (rowsRead.get(table) ?? 0) + rows.length);
      indexer.add(table, rows);
      if (raw) {
        const list = (raw[table] ??= []);
        for (const row of rows) list.push(row);
      }
    },
    onTableRead: (table, failure, over) => {
      tablesRead.set(table, failure);
      if (cosmosStep !== undefined || !tablesRead.has('cosmosAccounts') || !tablesRead.has('associations')) return;
      cosmosStep = startCosmosStep(inScopeOf(over.readable, over.tenantWide));
      // Awaited below; should the scan stop first, its reads end on their own (it never rejects).
      cosmosStep.catch(() => undefined);
    },
  });
  const indexed = indexer.finish(Object.fromEntries(Object.entries(tables).map(([name, t]) => [name, t.failure])), []);
  const readable = subscriptions.filter((s) => s.status === 'read').map((s) => s.id);
  const inScope = inScopeOf(readable, tenantWide);
  // Every table was read, so the step has started; were it not, it starts here with the same data.
  if (cosmosStep === undefined) {
    for (const name of ['cosmosAccounts', 'associations'] as const) tablesRead.set(name, tables[name].failure);
    cosmosStep = startCosmosStep(inScope);
  }
  const cosmosRoleAssignments = await cosmosStep;
  // NSP-07's access logs: once per scan, for the Learning-mode accounts in scope (src/collect/accessLogs.ts).
  let accessLogs = new Map<string, AccessLogReading>();
  if (o.deepInspection && o.policy.enabledRules.has('NSP-07')) {
    accessLogs = await collectAccessLogs(readinessTargets(indexed.indexes.associations.all(), inScope), {
      arm: o.clients.arm,
      logs: o.clients.logs,
      windowDays: o.policy.parameters.readinessWindowDays,
      log: o.log,
    });
  }
  const prepared: PreparedTenant = { ...indexed, tenant: { ...indexed.tenant, cosmosRoleAssignments, cloud: o.cloud ?? 'AzureCloud' }, accessLogs };
  const kept = raw;
  const withRows = (name: keyof ContextTables): TableRead => ({ ...tables[name], rows: kept?.[name] ?? [] });
  const context: ContextTables | undefined = kept
    ? {
        storageAccounts: withRows('storageAccounts'),
        associations: withRows('associations'),
        accessRules: withRows('accessRules'),
        roleAssignments: withRows('roleAssignments'),
        cosmosAccounts: withRows('cosmosAccounts'),
        searchServices: withRows('searchServices'),
      }
    : undefined;
  const shards = [];
  for (let i = 0; i < readable.length; i += MAX_SUBSCRIPTIONS_PER_QUERY)
    shards.push({ index: shards.length, subscriptions: readable.slice(i, i + MAX_SUBSCRIPTIONS_PER_QUERY) });
  if (tenantWide) shards.push({ index: 0, subscriptions: [] });
  const contextTables = (Object.keys(tables) as Array<keyof ContextTables>).map((name) => {
    const t = tables[name];
    // The rows read (counted as they arrived; the tables hold none).
    const rows = rowsRead.get(name) ?? 0;
    return { type: TABLES[name].type, rows, ...(t.failure === undefined ? {} : { failure: t.failure }) };
  });
  const plan: ScanPlan = {
    schemaVersion: 2,
    scanId: o.scanId,
    startedAt: o.startedAt.toISOString(),
    scope: o.scope,
    deepInspection: o.deepInspection,
    tenantWide,
    policy: describePolicy(o.policy),
    subscriptions,
    shards,
    contextTables,
    queryPlan,
    requests: requestDelta(requestCounters(o.clients), before),
    cloud: o.cloud ?? 'AzureCloud',
  };
  o.log(`scan ${o.scanId} planned: ${readable.length} subscription(s) in ${shards.length} shard(s)`);
  return { plan, prepared, ...(context ? { context } : {}), accessLogs: Object.fromEntries(accessLogs), cosmosRoleAssignments };
}

/** The policy a plan fixed. @throws PolicyError when the stored document does not validate */
export function planPolicy(plan: ScanPlan): Policy {
  return policyFrom(plan.policy, `the plan of scan ${plan.scanId}`);
}
