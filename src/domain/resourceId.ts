/**
 * ARM resource ID helpers. Azure returns IDs in varying case, so every comparison is
 * case-insensitive (RULES.md: "String comparisons of enum values and of resource IDs are case-insensitive").
 */

/** Case-insensitive equality of two strings (resource IDs or enum values). */
export function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Lower-case key for maps keyed by resource ID; trailing slashes removed. */
export function idKey(id: string): string {
  return id.replace(/\/+$/, '').toLowerCase();
}

/** Parts of `/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/…]`. */
export interface ParsedResourceId {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** Provider namespace and types, e.g. `Microsoft.CognitiveServices/accounts`. */
  readonly type: string;
  /** The last name segment. */
  readonly name: string;
}

const RESOURCE_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/(.+)$/i;

/**
 * Parses a resource ID of a resource in a resource group. Returns undefined for anything else
 * (subscription IDs, management groups, malformed strings).
 */
export function parseResourceId(id: string): ParsedResourceId | undefined {
  const m = RESOURCE_ID.exec(id);
  if (!m) return undefined;
  const [, subscriptionId, resourceGroup, namespace, rest] = m;
  if (!subscriptionId || !resourceGroup || !namespace || !rest) return undefined;
  const segments = rest.split('/');
  if (segments.length % 2 !== 0 || segments.some((s) => s.length === 0)) return undefined;
  const types = segments.filter((_, i) => i % 2 === 0);
  const name = segments[segments.length - 1] ?? '';
  return { subscriptionId, resourceGroup, type: `${namespace}/${types.join('/')}`, name };
}

/** The parent resource ID: the ID without its last `/{type}/{name}` pair. */
export function parentId(id: string): string {
  return id.replace(/\/+$/, '').split('/').slice(0, -2).join('/');
}

/** The last segment of an ID (its name, or a role definition's GUID). */
export function lastSegment(id: string): string {
  const parts = id.replace(/\/+$/, '').split('/');
  return parts[parts.length - 1] ?? '';
}

const SUBNET_ID
  = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i;

/** True when `id` is a virtual network subnet resource ID (NET-03). */
export function isSubnetId(id: string): boolean {
  return SUBNET_ID.test(id);
}

const STORAGE_ACCOUNT_PREFIX
  = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+)(\/.*)?$/i;

/**
 * When `scope` is a storage account or something below it (a container, say), returns the
 * storage account's ID; otherwise undefined. Used by ID-04.
 */
export function storageAccountOfScope(scope: string): string | undefined {
  const m = STORAGE_ACCOUNT_PREFIX.exec(scope.replace(/\/+$/, ''));
  return m?.[1];
}

const SEARCH_SERVICE_PREFIX
  = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Search\/searchServices\/[^/]+)(\/.*)?$/i;

/**
 * When `scope` is an Azure AI Search service or something below it (an index), returns the
 * service's ID; otherwise undefined. Used by ID-04.
 */
export function searchServiceOfScope(scope: string): string | undefined {
  const m = SEARCH_SERVICE_PREFIX.exec(scope.replace(/\/+$/, ''));
  return m?.[1];
}

const COSMOS_ACCOUNT_PREFIX
  = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.DocumentDB\/databaseAccounts\/[^/]+)(\/.*)?$/i;

/**
 * When `id` is a Cosmos DB account or something below it (a `sqlRoleAssignments` item, a
 * database), returns the account's ID; otherwise undefined. Used by ID-02 and ID-04.
 */
export function cosmosAccountOfId(id: string): string | undefined {
  const m = COSMOS_ACCOUNT_PREFIX.exec(id.replace(/\/+$/, ''));
  return m?.[1];
}

/**
 * A scope is broad when it is the tenant root, a management group, a subscription, or a resource
 * group (no `/providers/` segment after the resource group). RULES.md, "ID — managed identity".
 */
export function isBroadScope(scope: string): boolean {
  const s = scope.replace(/\/+$/, '');
  if (s === '') return true;
  if (/^\/providers\/Microsoft\.Management\/managementGroups\/[^/]+$/i.test(s)) return true;
  if (/^\/subscriptions\/[^/]+$/i.test(s)) return true;
  if (/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i.test(s)) return true;
  return false;
}
