import { exportEventFindings, type LogsUploader } from '../export/logsExport.js';
import { RULES } from '../rules/index.js';
import { collectAccessLogs, type LogsReader, readinessTargets } from '../collect/accessLogs.js';
import type { ContainerClient } from '@azure/storage-blob';
import type { DispatchOptions, DispatchOutcome } from '../alerts/dispatch.js';
import { dispatchAlert } from '../alerts/dispatch.js';
import type { AlertLedger } from '../alerts/ledger.js';
import { computeTransitions, knownOutcomes, type Transition, worstFirst } from '../alerts/transitions.js';
import { memoryFindings } from '../store/artifact.js';
import { ARM_API_VERSIONS, ArmReadError, type ArmReader } from '../collect/armReads.js';
import type { ProgressLog, ScanScope } from '../collect/collector.js';
import { TABLES, type RawInventory, type TableRead } from '../collect/inventory.js';
import { collectCosmosRoleAssignments } from '../collect/cosmosRoleAssignments.js';
import { tableQuery } from '../collect/resourceGraph.js';
import type { CloudName, CosmosRoleAssignments } from '../domain/snapshot.js';
import { normalizeAccounts, prepareTenant } from '../collect/normalize.js';
import type { ResourceGraphReader } from '../collect/resourceGraph.js';
import type { WebhookConfig } from '../config/alerts.js';
import type { Policy } from '../config/policy.js';
import { type Observed, read, unread } from '../domain/observed.js';
import { idKey, parseResourceId, sameId, storageAccountOfScope } from '../domain/resourceId.js';
import type { Finding } from '../domain/rule.js';
import { evaluateAccounts } from '../pipeline/evaluate.js';
import { accountScope, scopeSpec } from '../pipeline/scope.js';
import { type AccountState, perimeterOf, type StateStore } from '../store/accountState.js';
import { JsonBlobs } from '../store/json.js';
import type { ResourceEvent } from './parse.js';
import { type ChangeTarget, routeEvent } from './route.js';

/**
 * Re-evaluates the accounts a change event affects: a one-account run of the pipeline
 * (docs/architecture.md) whose raw rows come from fresh ARM reads (Resource Graph lags writes),
 * through the same scope filter, normalizer and evaluation (pipeline/evaluate.ts) as a scan.
 *
 * Correct under at-least-once, unordered delivery: an event already stored is not evaluated again;
 * verdicts come from current reads, never from event payloads, so an old event cannot bring back an
 * old verdict; state writes are conditional on ETags and refused when the stored state was read
 * later (store/accountState.ts `supersedes`), so concurrent or delayed evaluations of one account
 * never lose an update, overwrite a newer state, or send a transition twice. A transient ARM
 * failure throws (Event Grid retries).
 */

export interface ChangeDeps {
  readonly arm: ArmReader;
  /** The cloud scanned (the data sources' FQDN suffixes, ID-04). Default `AzureCloud`. */
  readonly cloud?: CloudName;
  /**
   * Log Analytics, for NSP-07 (the perimeter's access logs, read for the event's Learning-mode
   * accounts as a scan reads them). Absent: NSP-07 is `unknown` for them (not inspected).
   */
  readonly logs?: LogsReader;
  /**
   * The Log Analytics export: the evaluation's findings go to the findings stream with `Source` =
   * `event` and `ScanId` = the event's ID (best effort; the next scan exports every account again).
   */
  readonly uploader?: LogsUploader;
  /** Resource Graph, to list the subscriptions under management groups the scope names (only then). */
  readonly graph?: ResourceGraphReader;
  readonly state: StateStore;
  /** The audit container, for `events/{date}/{eventId}.json`. */
  readonly container: ContainerClient;
  readonly policy: Policy;
  /** The scope the Function App scans (`SCAN_SUBSCRIPTIONS`, `SCAN_MANAGEMENT_GROUPS`); default the policy's. */
  readonly scope?: ScanScope;
  /** Whether perimeter configurations are read. Default the policy's `deepInspection`. */
  readonly deepInspection?: boolean;
  readonly webhooks: readonly WebhookConfig[];
  readonly ledger: AlertLedger;
  readonly log?: ProgressLog;
  readonly dispatch?: DispatchOptions;
  readonly now?: () => Date;
}

export interface ChangeResult {
  readonly status: 'evaluated' | 'duplicate' | 'ignored';
  /** Accounts left alone: outside the scope (policy, settings), or whose stored state was read later (counts by reason). */
  readonly skipped?: { readonly outOfScope: readonly string[]; readonly stale: readonly string[] };
  readonly reason?: string;
  readonly accounts: readonly string[];
  readonly transitions: readonly Transition[];
  readonly alerts: readonly DispatchOutcome[];
}

/** The api-version of a Cosmos DB `sqlRoleAssignments` read: the scan's (collect/armReads.ts). */
export const COSMOS_DB_API_VERSION = ARM_API_VERSIONS.cosmosDb;

function eventBlob(e: ResourceEvent, now: Date): string {
  const date = (Date.parse(e.time) ? new Date(e.time) : now).toISOString().slice(0, 10);
  return `events/${date}/${e.id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200)}.json`;
}

function transientOrRecord(error: unknown): string {
  if (error instanceof ArmReadError && error.transient) throw error;
  return error instanceof Error ? error.message : String(error);
}

/** Accounts (as given IDs) a target concerns, from fresh reads and the last known state. */
async function affectedAccounts(target: Exclude<ChangeTarget, { kind: 'ignored' }>, deps: ChangeDeps): Promise<string[]> {
  const { index } = await deps.state.index();
  const out = new Set<string>();
  switch (target.kind) {
    case 'account':
      out.add(target.accountId);
      break;
    case 'profile':
      for (const a of index.profiles[idKey(target.profileId)] ?? []) out.add(a);
      break;
    case 'association': {
      type Association = { properties?: { privateLinkResource?: { id?: string } } } | undefined;
      const row = (await deps.arm.get(target.associationId, ARM_API_VERSIONS.network)) as Association;
      const resource = row?.properties?.privateLinkResource?.id ?? index.associations[idKey(target.associationId)];
      if (resource) {
        if (/\/providers\/Microsoft\.CognitiveServices\/accounts\/[^/]+$/i.test(resource)) out.add(resource);
        for (const a of index.storage[idKey(resource)] ?? []) out.add(a);
      } else {
        // Unknown resource (a delete we never saw): every account of that perimeter.
        for (const a of index.perimeters[perimeterOf(target.associationId)] ?? []) out.add(a);
      }
      break;
    }
    case 'roleAssignment': {
      const row = (await deps.arm.get(target.roleAssignmentId, ARM_API_VERSIONS.authorization)) as { properties?: { principalId?: string } } | undefined;
      const principal = row?.properties?.principalId?.toLowerCase();
      for (const a of (principal ? index.principals[principal] : undefined) ?? []) out.add(a);
      for (const a of index.roleAssignments[idKey(target.roleAssignmentId)] ?? []) out.add(a);
      break;
    }
    case 'cosmosRoleAssignment': {
      // As for an ARM role assignment: the principal it names now (absent once deleted), and the accounts
      // whose last known state recorded it (its previous principal, or the one a delete took away).
      const row = (await deps.arm.get(target.assignmentId, COSMOS_DB_API_VERSION)) as { properties?: { principalId?: string } } | undefined;
      const principal = row?.properties?.principalId?.toLowerCase();
      for (const a of (principal ? index.principals[principal] : undefined) ?? []) out.add(a);
      for (const a of index.roleAssignments[idKey(target.assignmentId)] ?? []) out.add(a);
      break;
    }
  }
  // De-duplicate case-insensitively, keeping the first spelling.
  const byKey = new Map<string, string>();
  for (const a of out) if (!byKey.has(idKey(a))) byKey.set(idKey(a), a);
  return [...byKey.values()];
}

/** The api-version of the Search service read (Microsoft.Search/searchServices). */
const SEARCH_API_VERSION = '2023-11-01';

/** Resource Graph's scope for the evaluation's scope (the tenant when it names none). */
function graphScopeOf(scope: ScanScope | undefined): { subscriptions?: string[]; managementGroups?: string[] } {
  if (!scope || (scope.subscriptions.length === 0 && scope.managementGroups.length === 0)) return {};
  return {
    ...(scope.subscriptions.length ? { subscriptions: [...scope.subscriptions] } : {}),
    ...(scope.managementGroups.length ? { managementGroups: [...scope.managementGroups] } : {}),
  };
}

interface FreshEvaluation {
  readonly findings: Map<string, Finding[]>;
  readonly states: Map<string, AccountState>;
  /** Accounts ARM says no longer exist (lower-case IDs). */
  readonly gone: Set<string>;
  /** Unusable rows and rule failures, in words. */
  readonly problems: readonly string[];
}

/** Reads the accounts from ARM and evaluates them. @throws ArmReadError when a read failed transiently. */
async function evaluateFresh(accountIds: readonly string[], deps: ChangeDeps, event: ResourceEvent, at: string): Promise<FreshEvaluation> {
  const eventId = event.id;
  const eventSub = /^\/subscriptions\/([^/]+)/i.exec(event.subject)?.[1];
  const { arm, policy } = deps;
  const accounts: unknown[] = [];
  const gone = new Set<string>();
  const configs = new Map<string, Observed<readonly unknown[]>>();
  const perimeters = new Set<string>();
  const principalsBySub = new Map<string, Set<string>>();
  for (const id of accountIds) {
    const row = (await arm.get(id, ARM_API_VERSIONS.cognitiveServices)) as Record<string, unknown> | undefined;
    if (!row) {
      gone.add(idKey(id));
      continue;
    }
    accounts.push(row);
    const last = await deps.state.read(id);
    for (const p of last?.state.perimeters ?? []) perimeters.add(p);
    try {
      const list = await arm.list(`${id}/networkSecurityPerimeterConfigurations`, ARM_API_VERSIONS.cognitiveServices);
      configs.set(idKey(id), read(list));
      for (const c of list as Array<{ properties?: { networkSecurityPerimeter?: { id?: string } } }>) {
        const p = c.properties?.networkSecurityPerimeter?.id;
        if (p) perimeters.add(idKey(p));
      }
    } catch (error) {
      configs.set(idKey(id), unread(`perimeter configurations could not be read: ${transientOrRecord(error)}`));
    }
    // Role assignments are listed per subscription (a tenant-wide listing needs root-scope access): the
    // account's own, every one its principals were known to hold roles in, and the event's.
    const subs = new Set<string>([parseResourceId(id)?.subscriptionId ?? '', ...(eventSub ? [eventSub] : [])]);
    for (const ra of last?.state.roleAssignments ?? []) {
      const s = /^\/subscriptions\/([^/]+)/i.exec(ra)?.[1];
      if (s) subs.add(s);
    }
    const identity = (row.identity ?? {}) as { principalId?: string; userAssignedIdentities?: Record<string, { principalId?: string }> };
    for (const sub of [...subs].filter(Boolean)) {
      const principals = principalsBySub.get(sub.toLowerCase()) ?? new Set<string>();
      if (identity.principalId) principals.add(identity.principalId.toLowerCase());
      for (const u of Object.values(identity.userAssignedIdentities ?? {})) if (u?.principalId) principals.add(u.principalId.toLowerCase());
      principalsBySub.set(sub.toLowerCase(), principals);
    }
  }

  const table = async (fn: () => Promise<unknown[]>): Promise<TableRead> => {
    try {
      return { rows: await fn() };
    } catch (error) {
      return { rows: [], failure: transientOrRecord(error) };
    }
  };
  const associations = await table(async () => {
    const rows: unknown[] = [];
    for (const p of perimeters) rows.push(...(await arm.list(`${p}/resourceAssociations`, ARM_API_VERSIONS.network)));
    return rows;
  });
  const profiles = new Set<string>();
  for (const r of associations.rows as Array<{ properties?: { privateLinkResource?: { id?: string }; profile?: { id?: string } } }>) {
    const target = r.properties?.privateLinkResource?.id;
    const profile = r.properties?.profile?.id;
    if (profile && target && accountIds.some((a) => sameId(a, target))) profiles.add(profile);
  }
  const accessRules = await table(async () => {
    const rows: unknown[] = [];
    for (const p of profiles) rows.push(...(await arm.list(`${p}/accessRules`, ARM_API_VERSIONS.network)));
    return rows;
  });
  const ownSubs = new Set(accountIds.map((a) => (parseResourceId(a)?.subscriptionId ?? '').toLowerCase()));
  const roleAssignments = await table(async () => {
    const rows: unknown[] = [];
    for (const [sub, principals] of principalsBySub) {
      for (const p of principals) {
        try {
          rows.push(
            ...(await arm.list(`/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments`, ARM_API_VERSIONS.authorization, {
              $filter: `principalId eq '${p}'`,
            })),
          );
        } catch (error) {
          // Another subscription the caller may not read: invisible, as it is to the scan (README, known limits).
          const refused = error instanceof ArmReadError && (error.statusCode === 401 || error.statusCode === 403);
          if (!refused || ownSubs.has(sub)) throw error;
          deps.log?.(`role assignments in subscription ${sub} could not be read: ${error.message}`);
        }
      }
    }
    return rows;
  });
  const storageIds = new Set<string>();
  for (const r of roleAssignments.rows as Array<{ properties?: { scope?: string } }>) {
    const sa = r.properties?.scope ? storageAccountOfScope(r.properties.scope) : undefined;
    if (sa) storageIds.add(sa);
  }
  const storageAccounts = await table(async () => {
    const rows: unknown[] = [];
    for (const s of storageIds) {
      const row = await arm.get(s, ARM_API_VERSIONS.storage);
      if (row) rows.push(row);
    }
    return rows;
  });
  // Data sources beyond storage (ID-02, ID-04), as a scan reads them: the Search services the principals
  // hold roles on (ARM, like storage), and the Cosmos DB accounts in scope with their sqlRoleAssignments
  // (Resource Graph lists the accounts; the assignments are the scan's own collection step).
  const searchIds = new Set<string>();
  for (const r of roleAssignments.rows as Array<{ properties?: { scope?: string } }>) {
    const m = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Search\/searchServices\/[^/]+)/i.exec(r.properties?.scope ?? '');
    if (m?.[1]) searchIds.add(m[1]);
  }
  const searchServices = await table(async () => {
    const rows: unknown[] = [];
    for (const s of searchIds) {
      const row = await arm.get(s, SEARCH_API_VERSION);
      if (row) rows.push(row);
    }
    return rows;
  });
  const wantsDataSources = policy.enabledRules.has('ID-02') || policy.enabledRules.has('ID-04');
  const cosmosAccounts: TableRead = !wantsDataSources
    ? { rows: [], failure: 'not read (ID-02 and ID-04 are off)' }
    : deps.graph
      ? await table(async () => deps.graph?.readAll(tableQuery(TABLES.cosmosAccounts), graphScopeOf(deps.scope)) ?? [])
      : { rows: [], failure: 'no Resource Graph client to list the Cosmos DB accounts' };
  const cosmosRoleAssignments: CosmosRoleAssignments = cosmosAccounts.failure !== undefined
    ? { assignments: [], unreadable: {}, notRead: `the Cosmos DB accounts could not be read (${cosmosAccounts.failure})` }
    : await collectCosmosRoleAssignments(
        (cosmosAccounts.rows as Array<{ id?: unknown }>).map((r) => String(r.id ?? '')).filter(Boolean),
        { arm, ...(deps.log ? { log: deps.log } : {}) },
      );
  const subscriptions = [...new Set(accounts.map((a) => parseResourceId(String((a as { id?: unknown }).id ?? ''))?.subscriptionId ?? ''))]
    .filter(Boolean)
    .map((id) => ({ id, status: 'read' as const }));
  const raw: RawInventory = {
    subscriptions,
    tables: { accounts: { rows: accounts }, storageAccounts, associations, accessRules, roleAssignments, cosmosAccounts, searchServices },
  };
  const deep = deps.deepInspection ?? policy.deepInspection;
  const indexed = prepareTenant(raw);
  // NSP-07: the same collection step as a scan's plan, for this event's Learning-mode accounts.
  const accessLogs = deep && deps.logs && policy.enabledRules.has('NSP-07')
    ? await collectAccessLogs(readinessTargets(indexed.indexes.associations.all(), (id) => accountIds.some((a) => sameId(a, id))), {
        arm, logs: deps.logs, windowDays: policy.parameters.readinessWindowDays, ...(deps.log ? { log: deps.log } : {}),
      })
    : undefined;
  const prepared = {
    ...indexed,
    tenant: { ...indexed.tenant, cosmosRoleAssignments, cloud: deps.cloud ?? 'AzureCloud' },
    ...(accessLogs ? { accessLogs } : {}),
  };
  const findings = new Map<string, Finding[]>();
  const states = new Map<string, AccountState>();
  const problems = prepared.problems;
  const evaluations = evaluateAccounts(normalizeAccounts(raw.tables.accounts, prepared), {
    policy,
    deepInspection: deep,
    prepared,
    configurations: configs,
    evaluatedAt: new Date(at),
    source: { kind: 'event', id: eventId, at },
    problems,
  });
  for (const e of evaluations) {
    findings.set(idKey(e.account.id), e.findings);
    states.set(idKey(e.account.id), e.state);
  }
  return { findings, states, gone, problems };
}

/**
 * Stores the new state of one account and returns its transitions (the one diff, engine/diff.ts),
 * retrying on concurrent writes. Nothing is stored or returned when the stored state was read later
 * than this evaluation's reads began (`stale`).
 */
async function commitAccount(
  accountId: string,
  fresh: FreshEvaluation,
  deps: ChangeDeps,
  source: AccountState['source'],
): Promise<{ transitions: Transition[]; stale: boolean }> {
  const key = idKey(accountId);
  const outcome = await deps.state.commit(accountId, async (current) => {
    const next = fresh.states.get(key);
    const before = current ? knownOutcomes(current) : new Map();
    if (next) return { state: next, result: await computeTransitions(before, memoryFindings(fresh.findings.get(key) ?? [])) };
    // Not evaluated (no row) and not gone, or gone and already known as deleted: nothing to commit.
    if (!fresh.gone.has(key) || !current || current.deleted) return undefined;
    // The account is gone: its fails resolve.
    return { state: { ...current, deleted: true, findings: {}, source }, result: await computeTransitions(knownOutcomes(current), memoryFindings([])) };
  });
  if (outcome.status === 'stale') deps.log?.(`state of ${accountId} was read after this event's reads began: kept, nothing alerted`);
  return { transitions: outcome.status === 'written' ? outcome.result : [], stale: outcome.status === 'stale' };
}

/**
 * Evaluates one change event end to end.
 * @throws ArmReadError for a transient ARM failure, and storage errors, so Event Grid retries.
 */
export async function evaluateChange(event: ResourceEvent, deps: ChangeDeps): Promise<ChangeResult> {
  const log = deps.log ?? (() => {});
  const now = (deps.now ?? (() => new Date()))();
  const records = new JsonBlobs(deps.container);
  const recordName = eventBlob(event, now);
  if (await records.exists(recordName)) {
    log(`event ${event.id}: already evaluated`);
    return { status: 'duplicate', accounts: [], transitions: [], alerts: [] };
  }
  const target = routeEvent(event);
  if (target.kind === 'ignored') {
    log(`event ${event.id} ignored: ${target.reason}`);
    return { status: 'ignored', reason: target.reason, accounts: [], transitions: [], alerts: [] };
  }
  const affected = await affectedAccounts(target, deps);
  // The scan's scope, applied the same way: an account outside it gets no finding, no state, no alert.
  const inScope = await accountScope(deps.graph, scopeSpec(deps.scope ?? { subscriptions: [], managementGroups: [] }, deps.policy));
  const accounts: string[] = [];
  const outOfScope: string[] = [];
  for (const a of affected) {
    const parsed = parseResourceId(a);
    (parsed && inScope({ subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup }) ? accounts : outOfScope).push(a);
  }
  if (outOfScope.length) log(`event ${event.id}: ${outOfScope.length} account(s) outside the scope left alone`);
  const source = { kind: 'event' as const, id: event.id, at: now.toISOString() };
  const fresh = await evaluateFresh(accounts, deps, event, source.at);
  const transitions: Transition[] = [];
  const stale: string[] = [];
  for (const a of accounts) {
    const committed = await commitAccount(a, fresh, deps, source);
    transitions.push(...committed.transitions);
    if (committed.stale) stale.push(a);
  }
  for (const p of fresh.problems) log(`event ${event.id}: ${p}`);

  const findings = [...fresh.findings.values()].flat();
  const skipped = { outOfScope, stale };
  await records.write(recordName, { event, target, accounts, skipped, gone: [...fresh.gone], transitions, findings, problems: fresh.problems, evaluatedAt: source.at }, 'absent', true);
  const alerts = transitions.length
    ? await dispatchAlert({ sourceId: event.id, kind: 'change', time: source.at, transitions: worstFirst(transitions) }, deps.webhooks, deps.ledger, { ...deps.dispatch, log })
    : [];
  if (deps.uploader) {
    try {
      const rules = new Map(RULES.map((r) => [r.id, { mcsb: r.controls.mcsb, azurePolicy: r.controls.azurePolicy, cis: r.controls.cis }]));
      const sent = await exportEventFindings({ findings, eventId: event.id, at: source.at, rules, uploader: deps.uploader });
      log(`event ${event.id}: export ${sent.sent} finding row(s) sent${sent.failed ? `, ${sent.failed} not (${sent.reasons.join('; ')})` : ''}`);
    } catch (error) {
      log(`event ${event.id}: export failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  log(`event ${event.id} (${event.operationName}): ${accounts.length} account(s), ${transitions.length} transition(s)`);
  return { status: 'evaluated', accounts, skipped, transitions, alerts };
}
