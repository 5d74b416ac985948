import { modeStrength } from '../domain/accessMode.js';
import { allOf, anyOf, type Fact, fact, type Observed } from '../domain/observed.js';
import { sameId } from '../domain/resourceId.js';
import type { RuleParameters } from '../domain/rule.js';
import type { AccountSnapshot, PerimeterAssociation } from '../domain/snapshot.js';

/**
 * Perimeter and network facts shared by several rules (RULES.md, "Perimeter facts used by several
 * rules"). Each returns a three-valued `Fact`: unknown only when the answer depends on unread data.
 */

function fromObserved<T>(o: Observed<T>, f: (value: T) => Fact): Fact {
  return o.ok ? f(o.value) : { ok: false, reason: o.reason };
}

/** Case-insensitive membership. */
export function includesIgnoreCase(list: readonly string[], value: string): boolean {
  return list.some((item) => sameId(item, value));
}

/** The account's kind is one of `perimeterKinds` (OpenAI, AIServices by default). */
export function perimeterCapable(account: AccountSnapshot, params: RuleParameters): Fact {
  return fromObserved(account.kind, (kind) =>
    includesIgnoreCase(params.perimeterKinds, kind)
      ? fact(true, `kind '${kind}' can join a network security perimeter`)
      : fact(false, `kind '${kind}' is not a perimeter-capable kind (${params.perimeterKinds.join(', ')})`),
  );
}

/** An association counts when its `provisioningState` is `Succeeded` (absent means Succeeded). */
export function isSucceeded(a: PerimeterAssociation): boolean {
  return sameId(a.provisioningState, 'Succeeded');
}

/** The account's `Succeeded` associations (unread when association rows were not read). */
export function succeededAssociations(account: AccountSnapshot): Observed<readonly PerimeterAssociation[]> {
  return account.associations.ok
    ? { ok: true, value: account.associations.value.filter(isSucceeded) }
    : account.associations;
}

/**
 * The account is associated with a perimeter: perimeter-capable kind and ≥1 `Succeeded` association.
 * Accounts of other kinds are not associated, without consulting perimeter data.
 */
export function associated(account: AccountSnapshot, params: RuleParameters): Fact {
  return allOf(
    () => perimeterCapable(account, params),
    () =>
      fromObserved(succeededAssociations(account), (list) =>
        list.length > 0
          ? fact(true, `associated with perimeter ${list.map((a) => `'${a.perimeterName}'`).join(', ')}`)
          : fact(false, 'the account has no Succeeded network security perimeter association'),
      ),
  );
}

export { modeStrength } from '../domain/accessMode.js';

/**
 * The strongest access mode among the `Succeeded` associations, with the association that has it;
 * undefined when there is none.
 */
export function effectiveAssociation(associations: readonly PerimeterAssociation[]): PerimeterAssociation | undefined {
  let best: PerimeterAssociation | undefined;
  for (const a of associations) {
    if (!isSucceeded(a)) continue;
    if (best === undefined || modeStrength(a.accessMode) > modeStrength(best.accessMode)) best = a;
  }
  return best;
}

/** Effective mode is `Enforced` (public traffic decided by the profile's access rules only). */
export function enforced(account: AccountSnapshot, params: RuleParameters): Fact {
  const capable = perimeterCapable(account, params);
  if (!capable.ok || !capable.value) return capable;
  return fromObserved(account.associations, (list) => {
    const best = effectiveAssociation(list);
    if (best === undefined) return fact(false, 'no Succeeded perimeter association, so no perimeter is enforced');
    return sameId(best.accessMode, 'Enforced')
      ? fact(true, `perimeter '${best.perimeterName}' is in Enforced access mode`)
      : fact(false, `effective access mode is ${best.accessMode} (perimeter '${best.perimeterName}'), not Enforced`);
  });
}

/** The account's own settings restrict the network: publicNetworkAccess Disabled/SecuredByPerimeter, or default action Deny. */
export function ownSettingsRestrict(account: AccountSnapshot): Fact {
  return fromObserved(account.network, (n) => {
    if (sameId(n.publicNetworkAccess, 'Disabled')) return fact(true, 'publicNetworkAccess is Disabled');
    if (sameId(n.publicNetworkAccess, 'SecuredByPerimeter'))
      return fact(true, 'publicNetworkAccess is SecuredByPerimeter');
    if (sameId(n.defaultAction, 'Deny')) return fact(true, 'networkAcls.defaultAction is Deny');
    return fact(
      false,
      `publicNetworkAccess is ${n.publicNetworkAccess} and networkAcls.defaultAction is ${n.defaultAction}`,
    );
  });
}

/** Network-restricted: effective mode Enforced, or the account's own settings restrict access. */
export function networkRestricted(account: AccountSnapshot, params: RuleParameters): Fact {
  return anyOf(
    () => ownSettingsRestrict(account),
    () => enforced(account, params),
  );
}

/** `identity.type` contains SystemAssigned or UserAssigned. */
export function hasManagedIdentity(account: AccountSnapshot): Fact {
  return fromObserved(account.identity, (id) =>
    id.systemAssigned || id.userAssigned
      ? fact(true, `identity type is ${id.type}`)
      : fact(false, `the account has no managed identity (identity type ${id.type})`),
  );
}

/** ≥1 IP rule or virtual network rule in `networkAcls`. */
export function hasNetworkRules(account: AccountSnapshot): Fact {
  return fromObserved(account.network, (n) =>
    n.ipRules.length + n.virtualNetworkRules.length > 0
      ? fact(true, `${n.ipRules.length} IP rule(s) and ${n.virtualNetworkRules.length} virtual network rule(s)`)
      : fact(false, 'the account has no IP or virtual network rules'),
  );
}

/** Lower-case role GUID membership. */
export function roleIn(roleId: string, roleIds: readonly string[]): boolean {
  return includesIgnoreCase(roleIds, roleId);
}

/** The Storage Blob Data roles (RULES.md: "the storage subset is the first three"). */
export const STORAGE_DATA_ROLE_IDS: readonly string[] = [
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
];

/** The Search data roles (RULES.md: "the Search subset the last two"). */
export const SEARCH_DATA_ROLE_IDS: readonly string[] = [
  '1407120a-92aa-4202-b7e9-c0e197c71c8f',
  '8ebe5a00-799e-43f5-93ac-243d3dce84a7',
];

/** Readable names of the built-in roles the rules name in messages. */
export const ROLE_NAMES: Readonly<Record<string, string>> = {
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': 'Storage Blob Data Reader',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  '1407120a-92aa-4202-b7e9-c0e197c71c8f': 'Search Index Data Reader',
  '8ebe5a00-799e-43f5-93ac-243d3dce84a7': 'Search Index Data Contributor',
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168': 'Role Based Access Control Administrator',
};

/** A role's readable name, or its GUID. */
export function roleName(roleId: string): string {
  return ROLE_NAMES[roleId.toLowerCase()] ?? roleId;
}
