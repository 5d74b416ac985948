import { DEFAULT_PARAMETERS } from '../../src/config/policy.js';
import { type Observed, read, unread } from '../../src/domain/observed.js';
import { idKey } from '../../src/domain/resourceId.js';
import type { RuleContext, RuleParameters } from '../../src/domain/rule.js';
import type {
  AccessRule,
  AccountSnapshot,
  ManagedIdentity,
  NetworkSettings,
  PerimeterAssociation,
  PerimeterConfiguration,
  CloudName,
  CosmosAccount,
  CosmosRoleAssignment,
  CosmosRoleAssignments,
  RoleAssignment,
  SearchService,
  StorageAccount,
} from '../../src/domain/snapshot.js';

/** Small builders for normalized snapshots, so each rule case states only what it is about. */

export const SUB = '11111111-2222-4333-8444-555555555555';
export const PRINCIPAL = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
export const PERIMETER = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityPerimeters/nsp-main`;
export const OTHER_PERIMETER = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityPerimeters/nsp-other`;
export const PROFILE = `${PERIMETER}/profiles/default`;

export const ROLES = {
  blobReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  blobContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  blobOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  searchReader: '1407120a-92aa-4202-b7e9-c0e197c71c8f',
  owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
} as const;

/** A read failure, as the collector records one. */
export function unreadable<T = never>(reason = 'simulated read failure'): Observed<T> {
  return unread(reason);
}

export function storageId(name: string): string {
  return `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/${name}`;
}

export function association(o: Partial<PerimeterAssociation> = {}): PerimeterAssociation {
  const perimeterId = o.perimeterId ?? PERIMETER;
  return {
    id: `${perimeterId}/resourceAssociations/assoc-${Math.random().toString(36).slice(2, 8)}`,
    perimeterId,
    perimeterName: perimeterId.split('/').pop() ?? '',
    profileId: `${perimeterId}/profiles/default`,
    accessMode: 'Enforced',
    provisioningState: 'Succeeded',
    resourceId: '',
    ...o,
  };
}

export function accessRule(o: Partial<AccessRule> = {}): AccessRule {
  return {
    id: `${PROFILE}/accessRules/rule`,
    name: 'rule',
    profileId: PROFILE,
    direction: 'Inbound',
    addressPrefixes: [],
    subscriptionIds: [],
    fullyQualifiedDomainNames: [],
    ...o,
  };
}

export function roleAssignment(roleId: string, scope: string, principalId = PRINCIPAL): RoleAssignment {
  return {
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${Math.random().toString(16).slice(2, 10)}`,
    principalId,
    roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
    roleId,
    scope,
  };
}

export function configuration(o: Partial<PerimeterConfiguration> = {}): PerimeterConfiguration {
  return {
    name: 'guid.assoc',
    provisioningState: 'Succeeded',
    provisioningIssues: [],
    perimeterId: PERIMETER,
    accessMode: 'Enforced',
    enabledLogCategories: ['NspPublicInboundPerimeterRulesDenied'],
    ...o,
  };
}

type IdentityType = 'None' | 'SystemAssigned' | 'UserAssigned' | 'SystemAssigned, UserAssigned';

export interface AccountOverrides {
  name?: string;
  kind?: string | Observed<string>;
  network?: Partial<NetworkSettings> | Observed<NetworkSettings>;
  identity?: IdentityType | Observed<ManagedIdentity>;
  disableLocalAuth?: boolean | Observed<boolean>;
  restrictOutboundNetworkAccess?: boolean | Observed<boolean>;
  keySource?: string | Observed<string>;
  privateEndpointStatuses?: string[] | Observed<never>;
  associations?: PerimeterAssociation[] | Observed<never>;
  accessRules?: AccessRule[] | Observed<never>;
  roleAssignments?: RoleAssignment[] | Observed<never>;
  perimeterConfigurations?: PerimeterConfiguration[] | Observed<never>;
}

function isObserved(v: unknown): v is Observed<unknown> {
  return typeof v === 'object' && v !== null && 'ok' in v;
}

function obs<T, V>(value: V | Observed<T> | undefined, fallback: T, f: (v: V) => T): Observed<T> {
  if (value === undefined) return read(fallback);
  if (isObserved(value)) return value as Observed<T>;
  return read(f(value as V));
}

/**
 * An OpenAI account with Azure's defaults (public access Enabled, default action Allow, no rules,
 * keys enabled), a system-assigned identity, no perimeter and no role assignments.
 */
export function anAccount(o: AccountOverrides = {}): AccountSnapshot {
  const name = o.name ?? 'oai-test';
  const network: NetworkSettings = {
    publicNetworkAccess: 'Enabled',
    defaultAction: 'Allow',
    bypass: 'None',
    ipRules: [],
    virtualNetworkRules: [],
  };
  const identityOf = (type: IdentityType): ManagedIdentity => ({
    type,
    systemAssigned: type.includes('SystemAssigned'),
    userAssigned: type.includes('UserAssigned'),
    principalIds: type === 'None' ? [] : [PRINCIPAL],
  });
  return {
    id: `/subscriptions/${SUB}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/${name}`,
    name,
    subscriptionId: SUB,
    resourceGroup: 'rg-ai',
    location: 'eastus',
    kind: obs(o.kind, 'OpenAI', (k: string) => k),
    tags: {},
    network: obs(o.network, network, (n: Partial<NetworkSettings>) => ({ ...network, ...n })),
    identity: obs(o.identity, identityOf('SystemAssigned'), identityOf),
    disableLocalAuth: obs(o.disableLocalAuth, false, (v: boolean) => v),
    restrictOutboundNetworkAccess: obs(o.restrictOutboundNetworkAccess, false, (v: boolean) => v),
    encryptionKeySource: obs(o.keySource, 'Microsoft.CognitiveServices', (v: string) => v),
    privateEndpointConnections: obs(o.privateEndpointStatuses, [], (list: string[]) =>
      list.map((status, i) => ({ id: `pec-${i}`, status })),
    ),
    associations: obs(o.associations, [], (list: PerimeterAssociation[]) => list),
    accessRules: obs(o.accessRules, [], (list: AccessRule[]) => list),
    roleAssignments: obs(o.roleAssignments, [], (list: RoleAssignment[]) => list),
    perimeterConfigurations:
      o.perimeterConfigurations === undefined
        ? undefined
        : isObserved(o.perimeterConfigurations)
          ? o.perimeterConfigurations
          : read(o.perimeterConfigurations),
  };
}

/** Rule context with default parameters and the given storage inventory. */
export function aContext(
  o: {
    params?: Partial<RuleParameters>;
    storage?: StorageAccount[];
    cosmos?: CosmosAccount[];
    search?: SearchService[];
    /** Cosmos DB data-plane assignments read; default none, all read. */
    cosmosAssignments?: CosmosRoleAssignments;
    cloud?: CloudName;
  } = {},
): RuleContext {
  return {
    params: { ...DEFAULT_PARAMETERS, ...o.params },
    tenant: {
      storageAccounts: new Map((o.storage ?? []).map((s) => [idKey(s.id), s])),
      cosmosAccounts: new Map((o.cosmos ?? []).map((s) => [idKey(s.id), s])),
      searchServices: new Map((o.search ?? []).map((s) => [idKey(s.id), s])),
      cosmosRoleAssignments: o.cosmosAssignments ?? { assignments: [], unreadable: {} },
      ...(o.cloud ? { cloud: o.cloud } : {}),
    },
  };
}

/** A Cosmos DB account's resource ID in the test subscription. */
export function cosmosId(name: string): string {
  return `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.DocumentDB/databaseAccounts/${name}`;
}

/** An Azure AI Search service's resource ID in the test subscription. */
export function searchId(name: string): string {
  return `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Search/searchServices/${name}`;
}

/** A Cosmos DB account in the inventory, associated with the given perimeters (or unread). */
export function aCosmosAccount(name: string, perimeters: string[] | Observed<never> = []): CosmosAccount {
  return { ...aStorageAccount(name, perimeters), id: cosmosId(name) };
}

/** A Search service in the inventory. */
export function aSearchService(name: string): SearchService {
  return { id: searchId(name), name };
}

/** A Cosmos DB data-plane role assignment (built-in Data Contributor by default) of `principalId` on the account. */
export function cosmosAssignment(account: string, principalId = PRINCIPAL, role = '00000000-0000-0000-0000-000000000002'): CosmosRoleAssignment {
  const accountId = cosmosId(account);
  return { id: `${accountId}/sqlRoleAssignments/${account}-${principalId.slice(0, 8)}`, accountId, principalId, roleDefinitionId: `${accountId}/sqlRoleDefinitions/${role}`, scope: accountId };
}

/** A storage account in the inventory, associated with the given perimeters (or unread). */
export function aStorageAccount(name: string, perimeters: string[] | Observed<never> = []): StorageAccount {
  return {
    id: storageId(name),
    name,
    perimeterIds: Array.isArray(perimeters) ? read(new Set(perimeters.map((p) => p.toLowerCase()))) : perimeters,
  };
}
