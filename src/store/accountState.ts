import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import pLimit from 'p-limit';
import type { Finding, Outcome, Severity } from '../domain/rule.js';
import { idKey, parentId, storageAccountOfScope } from '../domain/resourceId.js';
import type { AccountSnapshot, CosmosRoleAssignment } from '../domain/snapshot.js';
import { STORAGE_DATA_ROLE_IDS } from '../rules/facts.js';
import { JsonBlobs } from './json.js';

/**
 * The last known state of each account, kept by scans and change events (issue: change events):
 * its outcomes (for transitions) and what links it to other resources (for deletes, whose events
 * can no longer be read back from ARM). Blob layout: `state/accounts/{sha256(id)}.json`, and
 * `state/index.json`, the reverse index from principals, profiles, perimeters, associations, role
 * assignments and storage accounts to accounts.
 *
 * Every write is conditional on the ETag read (If-Match), or on absence (If-None-Match: *), so two
 * concurrent evaluations never lose an update: the loser re-reads and recomputes.
 */

/** One rule's last outcome for an account. */
export interface KnownFinding {
  readonly outcome: Outcome;
  readonly severity: Severity;
  readonly message: string;
}

export interface AccountState {
  readonly accountId: string;
  readonly accountName: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** True when the account was deleted (its fails were resolved). */
  readonly deleted: boolean;
  /** Rule ID → last outcome. */
  readonly findings: Readonly<Record<string, KnownFinding>>;
  /** Lower-case IDs. */
  readonly principals: readonly string[];
  readonly perimeters: readonly string[];
  readonly profiles: readonly string[];
  readonly associations: readonly string[];
  readonly roleAssignments: readonly string[];
  /** Storage accounts its principals hold a storage data role on. */
  readonly dataSources: readonly string[];
  /**
   * What wrote this state: a scan or an event, and when its reads started (ISO 8601): a scan's
   * start, an event's first ARM read. A newer `at` wins (`supersedes`).
   */
  readonly source: { readonly kind: 'scan' | 'event'; readonly id: string; readonly at: string };
}

/** Reverse links: lower-case key → account IDs as Azure spells them (associations → the associated resource). */
export interface StateIndex {
  principals: Record<string, string[]>;
  profiles: Record<string, string[]>;
  perimeters: Record<string, string[]>;
  roleAssignments: Record<string, string[]>;
  storage: Record<string, string[]>;
  associations: Record<string, string>;
}

function emptyIndex(): StateIndex {
  return { principals: {}, profiles: {}, perimeters: {}, roleAssignments: {}, storage: {}, associations: {} };
}

/**
 * Builds an account's state from its snapshot and findings.
 * @param cosmos the Cosmos DB data-plane role assignments held by the account's principals (rules/dataSources.ts
 *   `cosmosAssignmentsOf`): recorded among its role assignments (a delete event finds the account by them) and
 *   their Cosmos DB accounts among its data sources
 */
export function stateOf(account: AccountSnapshot, findings: readonly Finding[], source: AccountState['source'], cosmos: readonly CosmosRoleAssignment[] = []): AccountState {
  const associations = account.associations.ok ? account.associations.value : [];
  const assignments = account.roleAssignments.ok ? account.roleAssignments.value : [];
  const dataSources = new Set<string>();
  for (const a of assignments) {
    const sa = STORAGE_DATA_ROLE_IDS.includes(a.roleId) ? storageAccountOfScope(a.scope) : undefined;
    if (sa) dataSources.add(idKey(sa));
  }
  for (const c of cosmos) dataSources.add(idKey(c.accountId));
  const known: Record<string, KnownFinding> = {};
  for (const f of findings) known[f.ruleId] = { outcome: f.outcome, severity: f.severity, message: f.message };
  return {
    accountId: account.id,
    accountName: account.name,
    subscriptionId: account.subscriptionId,
    resourceGroup: account.resourceGroup,
    deleted: false,
    findings: known,
    principals: account.identity.ok ? [...account.identity.value.principalIds] : [],
    perimeters: [...new Set(associations.map((a) => idKey(a.perimeterId)))],
    profiles: [...new Set(associations.filter((a) => a.profileId).map((a) => idKey(a.profileId)))],
    associations: associations.map((a) => idKey(a.id)),
    roleAssignments: [...assignments.map((a) => idKey(a.id)), ...cosmos.map((c) => idKey(c.id))],
    dataSources: [...dataSources],
    source,
  };
}

/** Blob name of an account's state. */
export function stateBlobName(accountId: string): string {
  return `state/accounts/${createHash('sha256').update(idKey(accountId)).digest('hex')}.json`;
}

const INDEX_BLOB = 'state/index.json';

/**
 * The one rule for replacing an account's state: a state is replaced only by one read at the same
 * time or later (`source.at`, the time its reads started). A scan's states carry the scan's start;
 * an event's, the time it began reading ARM. So an evaluation that read earlier and commits later
 * (a slow event, a scan that ran while an event was evaluated) never overwrites a newer one.
 */
export function supersedes(next: AccountState, current: AccountState | undefined): boolean {
  return current === undefined || current.source.at <= next.source.at;
}

/** What `commit` did: written, or kept the stored state because it was read later (`stale`). */
export type CommitOutcome<T> = { readonly status: 'written'; readonly previous: AccountState | undefined; readonly result: T } | { readonly status: 'stale' | 'unchanged' };

export class StateStore {
  private readonly blobs: JsonBlobs;
  constructor(private readonly container: ContainerClient) {
    this.blobs = new JsonBlobs(container);
  }

  async read(accountId: string): Promise<{ state: AccountState; etag: string } | undefined> {
    const r = await this.blobs.read<AccountState>(stateBlobName(accountId));
    return r ? { state: r.value, etag: r.etag } : undefined;
  }

  /**
   * Replaces one account's state, conditionally on the ETag read and retrying lost races, then its
   * index links. `next` gets the stored state and returns the new one with a result (e.g. the
   * transitions to alert), or undefined to write nothing. A stored state read later than the new
   * one is kept (`supersedes`) and the result dropped: no false transition from a stale read.
   * @throws Error after 10 lost races; storage errors
   */
  async commit<T>(
    accountId: string,
    next: (current: AccountState | undefined) => Promise<{ state: AccountState; result: T } | undefined>,
  ): Promise<CommitOutcome<T>> {
    await this.container.createIfNotExists();
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.read(accountId);
      const proposed = await next(current?.state);
      if (!proposed) return { status: 'unchanged' };
      if (!supersedes(proposed.state, current?.state)) return { status: 'stale' };
      if (await this.blobs.write(stateBlobName(accountId), proposed.state, current ? { etag: current.etag } : 'absent')) {
        await this.updateIndex([{ account: accountId, state: proposed.state.deleted ? undefined : proposed.state }]);
        return { status: 'written', previous: current?.state, result: proposed.result };
      }
    }
    throw new Error(`state of ${accountId}: too many concurrent updates`);
  }

  async index(): Promise<{ index: StateIndex; etag: string | undefined }> {
    const r = await this.blobs.read<StateIndex>(INDEX_BLOB);
    return r ? { index: r.value, etag: r.etag } : { index: emptyIndex(), etag: undefined };
  }

  /** Replaces accounts' links in the index (removing them all when `state` is undefined), retrying on concurrent writes. */
  private async updateIndex(changes: ReadonlyArray<{ account: string; state: AccountState | undefined }>): Promise<void> {
    if (changes.length === 0) return;
    await this.blobs.update<StateIndex>(INDEX_BLOB, (current) => {
      const index = current ?? emptyIndex();
      relink(index, changes);
      return index;
    });
  }

  /** Every account state (`concurrency` reads at a time). */
  async all(concurrency = 16): Promise<AccountState[]> {
    if (!(await this.container.exists())) return [];
    const names: string[] = [];
    for await (const b of this.container.listBlobsFlat({ prefix: 'state/accounts/' })) names.push(b.name);
    const limit = pLimit(concurrency);
    const states = await Promise.all(names.map((n) => limit(async () => this.blobs.value<AccountState>(n))));
    return states.filter((s): s is AccountState => s !== undefined);
  }

  /**
   * After a scan: each account's state and its index links, by the same rule as `commit` (a state an
   * event read after the scan started is kept). Accounts of subscriptions the scan did not read are
   * not in `states`, so they keep theirs.
   * @returns the accounts written (count)
   */
  async syncFromScan(states: AsyncIterable<AccountState>, concurrency = 16): Promise<number> {
    await this.container.createIfNotExists();
    const limit = pLimit(concurrency);
    // Only the index links of written states are kept (the index is the tenant's anyway), not their outcomes.
    const written: Array<{ account: string; state: AccountState }> = [];
    const sync = async (s: AccountState) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const current = await this.read(s.accountId);
        if (!supersedes(s, current?.state)) return;
        if (await this.blobs.write(stateBlobName(s.accountId), s, current ? { etag: current.etag } : 'absent')) {
          written.push({ account: s.accountId, state: { ...s, findings: {} } });
          return;
        }
      }
    };
    // States are streamed in slices, so the accounts in memory are a slice's, not the tenant's.
    let slice: AccountState[] = [];
    const flush = async () => {
      await Promise.all(slice.map((s) => limit(() => sync(s))));
      slice = [];
    };
    for await (const s of states) {
      slice.push(s);
      if (slice.length >= 1000) await flush();
    }
    await flush();
    await this.updateIndex(written);
    return written.length;
  }
}

/**
 * Replaces the links of each changed account (any spelling) by those of its new state (none when
 * undefined or deleted), in one pass over the index whatever the number of changes (a scan of
 * 100,000 accounts relinks them all at once).
 */
function relink(index: StateIndex, changes: ReadonlyArray<{ account: string; state: AccountState | undefined }>): void {
  const changed = new Map(changes.map((c) => [idKey(c.account), c.state]));
  for (const map of [index.principals, index.profiles, index.perimeters, index.roleAssignments, index.storage]) {
    for (const [k, list] of Object.entries(map)) {
      const rest = list.filter((a) => !changed.has(idKey(a)));
      if (rest.length === list.length) continue;
      if (rest.length) map[k] = rest;
      else delete map[k];
    }
  }
  for (const [assoc, resource] of Object.entries(index.associations)) {
    const key = idKey(resource);
    if (!changed.has(key)) continue;
    const state = changed.get(key);
    if (!state || !state.associations.includes(assoc)) delete index.associations[assoc];
  }
  const link = (map: Record<string, string[]>, keys: readonly string[], account: string) => {
    for (const k of new Set(keys)) (map[k] ??= []).push(account);
  };
  // One entry per account (the last change wins), so an account listed twice is linked once.
  for (const state of changed.values()) {
    if (!state || state.deleted) continue;
    const account = state.accountId;
    link(index.principals, state.principals, account);
    link(index.profiles, state.profiles, account);
    link(index.perimeters, state.perimeters, account);
    link(index.roleAssignments, state.roleAssignments, account);
    link(index.storage, state.dataSources, account);
    for (const a of state.associations) index.associations[a] = account;
  }
}

/** The perimeter of an association or profile ID. */
export function perimeterOf(id: string): string {
  const m = /^(.*\/networkSecurityPerimeters\/[^/]+)/i.exec(id);
  return idKey(m?.[1] ?? parentId(id));
}
