import { createHash } from 'node:crypto';
import type { RestError } from '@azure/core-rest-pipeline';
import type { ContainerClient } from '@azure/storage-blob';
import pLimit from 'p-limit';
import type { Finding, Outcome, Severity } from '../domain/rule.js';
import { idKey, parentId, storageAccountOfScope } from '../domain/resourceId.js';
import type { AccountSnapshot } from '../domain/snapshot.js';
import { STORAGE_DATA_ROLE_IDS } from '../rules/facts.js';

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
  /** What wrote this state: a scan or an event, and when (ISO 8601). */
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

/** Builds an account's state from its snapshot and findings. */
export function stateOf(account: AccountSnapshot, findings: readonly Finding[], source: AccountState['source']): AccountState {
  const associations = account.associations.ok ? account.associations.value : [];
  const assignments = account.roleAssignments.ok ? account.roleAssignments.value : [];
  const dataSources = new Set<string>();
  for (const a of assignments) {
    const sa = STORAGE_DATA_ROLE_IDS.includes(a.roleId) ? storageAccountOfScope(a.scope) : undefined;
    if (sa) dataSources.add(idKey(sa));
  }
  return {
    accountId: account.id,
    accountName: account.name,
    subscriptionId: account.subscriptionId,
    resourceGroup: account.resourceGroup,
    deleted: false,
    findings: Object.fromEntries(findings.map((f) => [f.ruleId, { outcome: f.outcome, severity: f.severity, message: f.message }])),
    principals: account.identity.ok ? [...account.identity.value.principalIds] : [],
    perimeters: [...new Set(associations.map((a) => idKey(a.perimeterId)))],
    profiles: [...new Set(associations.filter((a) => a.profileId).map((a) => idKey(a.profileId)))],
    associations: associations.map((a) => idKey(a.id)),
    roleAssignments: assignments.map((a) => idKey(a.id)),
    dataSources: [...dataSources],
    source,
  };
}

function isConflict(error: unknown): boolean {
  const status = (error as RestError).statusCode;
  return status === 409 || status === 412;
}

/** Blob name of an account's state. */
export function stateBlobName(accountId: string): string {
  return `state/accounts/${createHash('sha256').update(idKey(accountId)).digest('hex')}.json`;
}

export class StateStore {
  constructor(private readonly container: ContainerClient) {}

  private async readJson<T>(name: string): Promise<{ value: T; etag: string } | undefined> {
    try {
      const r = await this.container.getBlobClient(name).download();
      const chunks: Buffer[] = [];
      for await (const c of r.readableStreamBody ?? []) chunks.push(Buffer.from(c as Buffer));
      return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T, etag: r.etag ?? '' };
    } catch (error) {
      if ((error as RestError).statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Writes conditionally: on `etag`, or only if absent. @returns false when someone else wrote first. */
  private async writeJson(name: string, value: unknown, etag: string | undefined): Promise<boolean> {
    const body = JSON.stringify(value);
    try {
      await this.container
        .getBlockBlobClient(name)
        .upload(body, Buffer.byteLength(body), { conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' }, blobHTTPHeaders: { blobContentType: 'application/json' } });
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  async read(accountId: string): Promise<{ state: AccountState; etag: string } | undefined> {
    const r = await this.readJson<AccountState>(stateBlobName(accountId));
    return r ? { state: r.value, etag: r.etag } : undefined;
  }

  /** Conditional write of an account's state. @returns false on a lost race (re-read and retry). */
  async write(state: AccountState, etag: string | undefined): Promise<boolean> {
    await this.container.createIfNotExists();
    return this.writeJson(stateBlobName(state.accountId), state, etag);
  }

  async index(): Promise<{ index: StateIndex; etag: string | undefined }> {
    const r = await this.readJson<StateIndex>('state/index.json');
    return r ? { index: r.value, etag: r.etag } : { index: emptyIndex(), etag: undefined };
  }

  /**
   * Replaces an account's links in the index (removing them all when `state` is undefined), retrying
   * on concurrent writes. @throws after 20 lost races
   */
  async updateIndex(accountId: string, state: AccountState | undefined): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const { index, etag } = await this.index();
      relink(index, accountId, state);
      if (await this.writeJson('state/index.json', index, etag)) return;
    }
    throw new Error('state index: too many concurrent updates');
  }

  /** Every account state (`concurrency` reads at a time). */
  async all(concurrency = 16): Promise<AccountState[]> {
    if (!(await this.container.exists())) return [];
    const names: string[] = [];
    for await (const b of this.container.listBlobsFlat({ prefix: 'state/accounts/' })) names.push(b.name);
    const limit = pLimit(concurrency);
    const states = await Promise.all(names.map((n) => limit(async () => (await this.readJson<AccountState>(n))?.value)));
    return states.filter((s): s is AccountState => s !== undefined);
  }

  /**
   * After a scan: each account's state and its index links. Accounts of subscriptions the scan did
   * not read keep their state, and so does an account whose state an event wrote after the scan
   * started (the event's ARM reads are newer than the scan's Resource Graph reads). Conditional writes.
   * @returns the accounts written (count)
   */
  async syncFromScan(states: readonly AccountState[], scanStartedAt: string, concurrency = 16): Promise<number> {
    await this.container.createIfNotExists();
    const limit = pLimit(concurrency);
    const written: AccountState[] = [];
    await Promise.all(
      states.map((s) =>
        limit(async () => {
          for (let attempt = 0; attempt < 5; attempt++) {
            const current = await this.read(s.accountId);
            if (current && current.state.source.kind === 'event' && current.state.source.at > scanStartedAt) return;
            if (await this.write(s, current?.etag)) {
              written.push(s);
              return;
            }
          }
        }),
      ),
    );
    for (let attempt = 0; attempt < 20; attempt++) {
      const { index, etag } = await this.index();
      for (const s of written) relink(index, s.accountId, s);
      if (await this.writeJson('state/index.json', index, etag)) return written.length;
    }
    throw new Error('state index: too many concurrent updates');
  }
}

function add(map: Record<string, string[]>, key: string, account: string): void {
  const list = map[key] ?? [];
  if (!list.some((a) => idKey(a) === idKey(account))) list.push(account);
  map[key] = list;
}

/** Replaces the links of `account` (any spelling) by those of `state`. */
function relink(index: StateIndex, account: string, state: AccountState | undefined): void {
  const key = idKey(account);
  for (const map of [index.principals, index.profiles, index.perimeters, index.roleAssignments, index.storage]) {
    for (const [k, list] of Object.entries(map)) {
      const rest = list.filter((a) => idKey(a) !== key);
      if (rest.length) map[k] = rest;
      else delete map[k];
    }
  }
  for (const [assoc, resource] of Object.entries(index.associations)) {
    if (idKey(resource) === key && (!state || !state.associations.includes(assoc))) delete index.associations[assoc];
  }
  account = state?.accountId ?? account;
  if (!state || state.deleted) return;
  for (const p of state.principals) add(index.principals, p, account);
  for (const p of state.profiles) add(index.profiles, p, account);
  for (const p of state.perimeters) add(index.perimeters, p, account);
  for (const r of state.roleAssignments) add(index.roleAssignments, r, account);
  for (const s of state.dataSources) add(index.storage, s, account);
  for (const a of state.associations) index.associations[a] = account;
}

/** The perimeter of an association or profile ID. */
export function perimeterOf(id: string): string {
  const m = /^(.*\/networkSecurityPerimeters\/[^/]+)/i.exec(id);
  return idKey(m?.[1] ?? parentId(id));
}
