import type { RestError } from '@azure/core-rest-pipeline';
import type { ContainerClient } from '@azure/storage-blob';
import type { DispatchOptions, DispatchOutcome } from '../alerts/dispatch.js';
import { dispatchAlert } from '../alerts/dispatch.js';
import type { AlertLedger } from '../alerts/ledger.js';
import { computeTransitions, knownOutcomes, type Transition, worstFirst } from '../alerts/transitions.js';
import { memoryFindings } from '../store/artifact.js';
import { ARM_API_VERSIONS, ArmReadError, type ArmReader } from '../collect/armReads.js';
import type { ProgressLog } from '../collect/collector.js';
import type { RawInventory, TableRead } from '../collect/inventory.js';
import { normalize, withPerimeterConfigurations } from '../collect/normalize.js';
import type { WebhookConfig } from '../config/alerts.js';
import type { Policy } from '../config/policy.js';
import { type Observed, read, unread } from '../domain/observed.js';
import { idKey, parseResourceId, sameId, storageAccountOfScope } from '../domain/resourceId.js';
import type { Finding } from '../domain/rule.js';
import { activeRules, evaluateAccount } from '../engine/evaluate.js';
import { applyExemptions } from '../engine/exemptions.js';
import { perimeterCapable } from '../rules/facts.js';
import { RULES } from '../rules/index.js';
import type { ResourceEvent } from './parse.js';
import { type ChangeTarget, routeEvent } from './route.js';
import { type AccountState, perimeterOf, type StateStore, stateOf } from './state.js';

/**
 * Re-evaluates the accounts a change event affects (issue: change events), with the same
 * normalizer, engine and rules as the scan, from fresh ARM reads (Resource Graph lags writes).
 *
 * Correct under at-least-once, unordered delivery: an event already stored is not evaluated again;
 * verdicts come from current reads, never from event payloads, so an old event cannot bring back an
 * old verdict; state writes are conditional on ETags, so concurrent evaluations of one account never
 * lose an update nor send a transition twice. A transient ARM failure throws (Event Grid retries).
 */

export interface ChangeDeps {
  readonly arm: ArmReader;
  readonly state: StateStore;
  /** The audit container, for `events/{date}/{eventId}.json`. */
  readonly container: ContainerClient;
  readonly policy: Policy;
  readonly webhooks: readonly WebhookConfig[];
  readonly ledger: AlertLedger;
  readonly log?: ProgressLog;
  readonly dispatch?: DispatchOptions;
  readonly now?: () => Date;
}

export interface ChangeResult {
  readonly status: 'evaluated' | 'duplicate' | 'ignored';
  readonly reason?: string;
  readonly accounts: readonly string[];
  readonly transitions: readonly Transition[];
  readonly alerts: readonly DispatchOutcome[];
}

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
  }
  // De-duplicate case-insensitively, keeping the first spelling.
  const byKey = new Map<string, string>();
  for (const a of out) if (!byKey.has(idKey(a))) byKey.set(idKey(a), a);
  return [...byKey.values()];
}

interface FreshEvaluation {
  readonly findings: Map<string, Finding[]>;
  readonly states: Map<string, AccountState>;
  /** Accounts ARM says no longer exist (lower-case IDs). */
  readonly gone: Set<string>;
}

/** Reads the accounts from ARM and evaluates them. @throws ArmReadError when a read failed transiently. */
async function evaluateFresh(accountIds: readonly string[], deps: ChangeDeps, event: ResourceEvent, at: string): Promise<FreshEvaluation> {
  const eventId = event.id;
  const eventSub = /^\/subscriptions\/([^/]+)/i.exec(event.subject)?.[1];
  const { arm, policy } = deps;
  const params = policy.parameters;
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
  const subscriptions = [...new Set(accounts.map((a) => parseResourceId(String((a as { id?: unknown }).id ?? ''))?.subscriptionId ?? ''))]
    .filter(Boolean)
    .map((id) => ({ id, status: 'read' as const }));
  const raw: RawInventory = {
    subscriptions,
    tables: { accounts: { rows: accounts }, storageAccounts, associations, accessRules, roleAssignments },
  };
  const normalized = normalize(raw);
  const rules = activeRules(RULES, policy.enabledRules, params.deepInspection, policy.severities);
  const evaluatedAt = new Date(at);
  const ctx = { params, tenant: normalized.tenant };
  const findings = new Map<string, Finding[]>();
  const states = new Map<string, AccountState>();
  for (let account of normalized.accounts) {
    const c = configs.get(idKey(account.id));
    const capable = perimeterCapable(account, params);
    if (c && params.deepInspection && capable.ok && capable.value && account.associations.ok && account.associations.value.length > 0) {
      account = withPerimeterConfigurations(account, c);
    }
    const fs = evaluateAccount(account, rules, ctx).map((f) => applyExemptions(f, policy, evaluatedAt));
    findings.set(idKey(account.id), fs);
    states.set(idKey(account.id), stateOf(account, fs, { kind: 'event', id: eventId, at }));
  }
  return { findings, states, gone };
}

/** Transitions of one account from its last known state: the same logic as a scan's (alerts/transitions.ts). */
async function transitionsFor(before: AccountState | undefined, findings: readonly Finding[]): Promise<Transition[]> {
  return computeTransitions(before ? knownOutcomes(before) : new Map(), memoryFindings(findings));
}

/** Stores the new state of one account and returns its transitions, retrying on concurrent writes. */
async function commitAccount(accountId: string, fresh: FreshEvaluation, deps: ChangeDeps, source: AccountState['source']): Promise<Transition[]> {
  const key = idKey(accountId);
  for (let attempt = 0; attempt < 10; attempt++) {
    const current = await deps.state.read(accountId);
    let next: AccountState | undefined = fresh.states.get(key);
    if (!next) {
      if (!fresh.gone.has(key)) return []; // not evaluated (no row) and not gone: nothing to commit
      if (!current || current.state.deleted) return [];
      next = { ...current.state, deleted: true, findings: {}, source };
      const transitions = await transitionsFor(current.state, []); // the account is gone: its fails resolve
      if (await deps.state.write(next, current.etag)) {
        await deps.state.updateIndex(accountId, undefined);
        return transitions;
      }
      continue;
    }
    const transitions = await transitionsFor(current?.state, fresh.findings.get(key) ?? []);
    if (await deps.state.write(next, current?.etag)) {
      await deps.state.updateIndex(accountId, next);
      return transitions;
    }
  }
  throw new Error(`state of ${accountId}: too many concurrent updates`);
}

/**
 * Evaluates one change event end to end.
 * @throws ArmReadError for a transient ARM failure, and storage errors, so Event Grid retries.
 */
export async function evaluateChange(event: ResourceEvent, deps: ChangeDeps): Promise<ChangeResult> {
  const log = deps.log ?? (() => {});
  const now = (deps.now ?? (() => new Date()))();
  const record = deps.container.getBlockBlobClient(eventBlob(event, now));
  if (await record.exists()) {
    log(`event ${event.id}: already evaluated`);
    return { status: 'duplicate', accounts: [], transitions: [], alerts: [] };
  }
  const target = routeEvent(event);
  if (target.kind === 'ignored') {
    log(`event ${event.id} ignored: ${target.reason}`);
    return { status: 'ignored', reason: target.reason, accounts: [], transitions: [], alerts: [] };
  }
  const accounts = await affectedAccounts(target, deps);
  const source = { kind: 'event' as const, id: event.id, at: now.toISOString() };
  const fresh = await evaluateFresh(accounts, deps, event, source.at);
  const transitions: Transition[] = [];
  for (const a of accounts) transitions.push(...(await commitAccount(a, fresh, deps, source)));

  const findings = [...fresh.findings.values()].flat();
  const body = JSON.stringify({ event, target, accounts, gone: [...fresh.gone], transitions, findings, evaluatedAt: source.at }, null, 2);
  try {
    await record.upload(body, Buffer.byteLength(body), { conditions: { ifNoneMatch: '*' }, blobHTTPHeaders: { blobContentType: 'application/json' } });
  } catch (error) {
    const status = (error as RestError).statusCode;
    if (status !== 409 && status !== 412) throw error;
  }
  const alerts = transitions.length
    ? await dispatchAlert({ sourceId: event.id, kind: 'change', time: source.at, transitions: worstFirst(transitions) }, deps.webhooks, deps.ledger, { ...deps.dispatch, log })
    : [];
  log(`event ${event.id} (${event.operationName}): ${accounts.length} account(s), ${transitions.length} transition(s)`);
  return { status: 'evaluated', accounts, transitions, alerts };
}
