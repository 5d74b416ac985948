import { type Fact, fact } from '../domain/observed.js';
import { cosmosAccountOfId, idKey, searchServiceOfScope, storageAccountOfScope } from '../domain/resourceId.js';
import type { RuleContext } from '../domain/rule.js';
import type { AccountSnapshot, CloudName, CosmosRoleAssignment, CosmosRoleAssignments, StorageAccount } from '../domain/snapshot.js';
import { isSucceeded, roleIn, SEARCH_DATA_ROLE_IDS, STORAGE_DATA_ROLE_IDS } from './facts.js';

/**
 * The data sources of an account and whether each is reachable once its perimeter is enforced
 * (RULES.md, ID-04): one computation, which ID-04 judges and NSP-07's readiness plan turns into
 * outbound FQDNs, so both say the same about what Enforced would break.
 */

/** The kinds of data source ID-04 knows. */
export type DataSourceKind = 'storage' | 'cosmosdb' | 'search';

/** Readable names of the kinds, for messages. */
export const DATA_SOURCE_KIND_NAMES: Readonly<Record<DataSourceKind, string>> = {
  storage: 'Storage account',
  cosmosdb: 'Cosmos DB account',
  search: 'Azure AI Search service',
};

/** The endpoint FQDN suffix of each kind, per cloud (`{name}.{suffix}`). */
export const DATA_SOURCE_SUFFIXES: Readonly<Record<CloudName, Readonly<Record<DataSourceKind, string>>>> = {
  AzureCloud: { storage: 'blob.core.windows.net', cosmosdb: 'documents.azure.com', search: 'search.windows.net' },
  AzureUSGovernment: { storage: 'blob.core.usgovcloudapi.net', cosmosdb: 'documents.azure.us', search: 'search.azure.us' },
  AzureChinaCloud: { storage: 'blob.core.chinacloudapi.cn', cosmosdb: 'documents.azure.cn', search: 'search.azure.cn' },
};

/** One data source of the account and its verdict. */
export interface DataSourceVerdict {
  readonly kind: DataSourceKind;
  /** The data source's resource ID (as the assignment or inventory gave it). */
  readonly id: string;
  /** Its endpoint FQDN (lower-case), when its name is known. */
  readonly fqdn?: string;
  /**
   * ok: reachable when Enforced; not_ok: in the inventory and neither in a perimeter of the account
   * nor allowed outbound; unknown: undecidable on what was read.
   */
  readonly status: 'ok' | 'not_ok' | 'unknown';
  readonly why: string;
}

/** The data sources of an account, decided (`dataSourcesOf`). */
export interface DataSources {
  /** Applicability of ID-04: ≥1 data source (unknown when one may exist in data that was not read). */
  readonly reachable: Fact;
  readonly verdicts: readonly DataSourceVerdict[];
}

/** An account's Cosmos DB data-plane assignments, and what could not be read. */
export interface AccountCosmosAssignments {
  /** Assignments to one of the account's principals. */
  readonly assignments: CosmosRoleAssignment[];
  /** Cosmos DB accounts (lower-case ID, reason) whose assignments could not be read. */
  readonly unreadable: ReadonlyArray<readonly [string, string]>;
  /** Set when the evaluation read no Cosmos DB assignments at all. */
  readonly notRead?: string;
}

/** A reading's assignments by lower-case principal ID, each with its position in the reading. */
interface CosmosIndex {
  readonly byPrincipal: ReadonlyMap<string, ReadonlyArray<readonly [number, CosmosRoleAssignment]>>;
  readonly unreadable: ReadonlyArray<readonly [string, string]>;
}

/** One index per reading (the reading is the tenant's, shared by every account of an evaluation). */
const cosmosIndexes = new WeakMap<CosmosRoleAssignments, CosmosIndex>();

function cosmosIndexOf(reading: CosmosRoleAssignments): CosmosIndex {
  let index = cosmosIndexes.get(reading);
  if (index === undefined) {
    const byPrincipal = new Map<string, Array<readonly [number, CosmosRoleAssignment]>>();
    reading.assignments.forEach((a, i) => {
      const key = a.principalId.toLowerCase();
      const list = byPrincipal.get(key);
      if (list === undefined) byPrincipal.set(key, [[i, a]]);
      else list.push([i, a]);
    });
    index = { byPrincipal, unreadable: Object.entries(reading.unreadable) };
    cosmosIndexes.set(reading, index);
  }
  return index;
}

/** The account's principals' Cosmos DB data-plane assignments, or why they are not all known. */
export function cosmosAssignmentsOf(account: AccountSnapshot, ctx: RuleContext): AccountCosmosAssignments {
  const reading = ctx.tenant.cosmosRoleAssignments;
  if (reading === undefined) return { assignments: [], unreadable: [], notRead: 'Cosmos DB data-plane role assignments were not read by this evaluation' };
  const index = cosmosIndexOf(reading);
  // The reading's order, as a filter of its assignments would give (an index instead of a scan per account).
  const matched: Array<readonly [number, CosmosRoleAssignment]> = [];
  if (account.identity.ok) {
    for (const p of new Set(account.identity.value.principalIds)) {
      const list = index.byPrincipal.get(p);
      if (list !== undefined) matched.push(...list);
    }
  }
  if (matched.length > 1) matched.sort((x, y) => x[0] - y[0]);
  return {
    assignments: matched.map(([, a]) => a),
    unreadable: index.unreadable,
    ...(reading.notRead === undefined ? {} : { notRead: reading.notRead }),
  };
}

/**
 * The account's data sources (storage and Search by ARM data role scoped to them or below; Cosmos DB
 * by a `sqlRoleAssignment` to one of its principals) and for each whether it is ok (RULES.md, ID-04).
 * A Cosmos DB account whose assignments could not be read is listed (unknown) only where it could
 * change the verdict: when it would not be ok for this account, or the account has no other source.
 */
export function dataSourcesOf(account: AccountSnapshot, ctx: RuleContext): DataSources {
  const cloud = ctx.tenant.cloud ?? 'AzureCloud';
  const suffix = DATA_SOURCE_SUFFIXES[cloud];
  const perimeters = account.associations.ok
    ? new Set(account.associations.value.filter(isSucceeded).map((a) => idKey(a.perimeterId)))
    : undefined;
  const outbound = (fqdn: string): boolean | undefined =>
    account.accessRules.ok
      ? account.accessRules.value.some((r) => r.direction.toLowerCase() === 'outbound' && r.fullyQualifiedDomainNames.some((f) => f.toLowerCase() === fqdn))
      : undefined;
  const judge = (kind: DataSourceKind, id: string): DataSourceVerdict => {
    const kindName = DATA_SOURCE_KIND_NAMES[kind];
    const withPerimeters = kind === 'storage' ? ctx.tenant.storageAccounts : kind === 'cosmosdb' ? ctx.tenant.cosmosAccounts : undefined;
    const item: { readonly name: string; readonly perimeterIds?: StorageAccount['perimeterIds'] } | undefined
      = kind === 'search' ? ctx.tenant.searchServices?.get(idKey(id)) : withPerimeters?.get(idKey(id));
    if (item === undefined) {
      return { kind, id, status: 'unknown', why: `not in the ${kind === 'storage' ? 'storage' : kindName} inventory the scan read` };
    }
    const fqdn = `${item.name}.${suffix[kind]}`.toLowerCase();
    const allowed = outbound(fqdn);
    // AI Search is reached only through an outbound rule, whatever perimeter it is in (RULES.md, ID-04).
    const shares = kind === 'search' || item.perimeterIds === undefined
      ? false
      : item.perimeterIds.ok && perimeters !== undefined
        ? [...item.perimeterIds.value].some((p) => perimeters.has(p))
        : undefined;
    if (shares === true) return { kind, id, fqdn, status: 'ok', why: `${kindName} '${item.name}' is associated with the account's perimeter` };
    if (allowed === true) return { kind, id, fqdn, status: 'ok', why: `an outbound rule allows ${fqdn}` };
    if (shares === false && allowed === false) {
      return {
        kind, id, fqdn, status: 'not_ok',
        why: kind === 'search'
          ? `${kindName} '${item.name}' is reached only through an outbound rule, and none allows ${fqdn}: add ${fqdn} to an outbound rule of the account's profile`
          : `${kindName} '${item.name}' is outside the account's perimeter and no outbound rule allows ${fqdn}`,
      };
    }
    const reason = !account.associations.ok
      ? account.associations.reason
      : item.perimeterIds !== undefined && !item.perimeterIds.ok
        ? item.perimeterIds.reason
        : !account.accessRules.ok ? account.accessRules.reason : 'undetermined';
    return { kind, id, fqdn, status: 'unknown', why: `${kindName} '${item.name}' could not be decided: ${reason}` };
  };

  const verdicts: DataSourceVerdict[] = [];
  const seen = new Set<string>();
  const add = (kind: DataSourceKind, id: string) => {
    if (seen.has(idKey(id))) return;
    seen.add(idKey(id));
    verdicts.push(judge(kind, id));
  };
  const storageRoles = STORAGE_DATA_ROLE_IDS.filter((r) => roleIn(r, ctx.params.dataAccessRoleIds));
  const searchRoles = SEARCH_DATA_ROLE_IDS.filter((r) => roleIn(r, ctx.params.dataAccessRoleIds));
  if (account.roleAssignments.ok) {
    for (const a of account.roleAssignments.value) {
      const storage = roleIn(a.roleId, storageRoles) ? storageAccountOfScope(a.scope) : undefined;
      if (storage !== undefined) add('storage', storage);
      const search = roleIn(a.roleId, searchRoles) ? searchServiceOfScope(a.scope) : undefined;
      if (search !== undefined) add('search', search);
    }
  }
  const cosmos = cosmosAssignmentsOf(account, ctx);
  for (const a of cosmos.assignments) add('cosmosdb', cosmosAccountOfId(a.accountId) ?? a.accountId);
  const known = verdicts.length;
  const unreadHere: string[] = [];
  if (!account.roleAssignments.ok) {
    unreadHere.push(account.roleAssignments.reason);
    verdicts.push({ kind: 'storage', id: '(any storage account or Search service)', status: 'unknown', why: `role assignments could not be read: ${account.roleAssignments.reason}` });
  }
  if (cosmos.notRead !== undefined) {
    unreadHere.push(cosmos.notRead);
    verdicts.push({ kind: 'cosmosdb', id: '(any Cosmos DB account)', status: 'unknown', why: cosmos.notRead });
  }
  for (const [key, reason] of cosmos.unreadable) {
    if (seen.has(key)) continue;
    const item = ctx.tenant.cosmosAccounts?.get(key);
    const verdict = judge('cosmosdb', item?.id ?? key);
    // Ok for this account whatever its assignments: it changes the verdict only when nothing else is a data source.
    if (verdict.status === 'ok' && known > 0) continue;
    verdicts.push({ ...verdict, status: 'unknown', why: `${reason} (it may be a data source of this account${verdict.status === 'not_ok' ? ', outside its perimeter' : ''})` });
    unreadHere.push(reason);
  }
  const reachable: Fact = known > 0
    ? fact(true, `the identity can reach ${known} data source(s)`)
    : unreadHere.length > 0
      ? { ok: false, reason: unreadHere[0] ?? 'data sources could not be read' }
      : fact(false, 'the identity holds no storage or Search data role scoped to a storage account or Search service, and no Cosmos DB data-plane role assignment');
  return { reachable, verdicts };
}

/** A data source in words: kind, ID, verdict and why. */
export function describeDataSource(v: DataSourceVerdict): string {
  return `${DATA_SOURCE_KIND_NAMES[v.kind]} ${v.id}: ${v.why}`;
}
