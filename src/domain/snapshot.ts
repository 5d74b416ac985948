import type { Observed } from './observed.js';

/**
 * The normalized view of one `Microsoft.CognitiveServices/accounts` resource, as rules see it.
 * Built only by `src/collect/normalize.ts`; rules never read raw ARM JSON.
 *
 * Every group of properties is `Observed` separately, so a malformed part of a row makes only
 * the rules that need that part `unknown`. Azure's defaults for absent properties are already
 * applied (RULES.md, "Azure defaults applied by the normalizer").
 */
export interface AccountSnapshot {
  /** The ARM resource ID as Azure returned it. Compare with `sameId`, never `===`. */
  readonly id: string;
  readonly name: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly location: string;
  /** `OpenAI`, `AIServices`, `CognitiveServices`, `Face`, … */
  readonly kind: Observed<string>;
  readonly tags: Readonly<Record<string, string>>;
  readonly network: Observed<NetworkSettings>;
  readonly identity: Observed<ManagedIdentity>;
  /** `properties.disableLocalAuth`, default false. */
  readonly disableLocalAuth: Observed<boolean>;
  /** `properties.restrictOutboundNetworkAccess`, default false. */
  readonly restrictOutboundNetworkAccess: Observed<boolean>;
  /** `properties.encryption.keySource`, default `Microsoft.CognitiveServices`. */
  readonly encryptionKeySource: Observed<string>;
  readonly privateEndpointConnections: Observed<readonly PrivateEndpointConnection[]>;
  /** Every perimeter resource association whose `privateLinkResource.id` is this account, in any state. */
  readonly associations: Observed<readonly PerimeterAssociation[]>;
  /** Access rules of the profiles of this account's `Succeeded` associations (their union). */
  readonly accessRules: Observed<readonly AccessRule[]>;
  /** Role assignments held by any of this account's managed identity principals. */
  readonly roleAssignments: Observed<readonly RoleAssignment[]>;
  /**
   * The account's `networkSecurityPerimeterConfigurations` (deep inspection). `undefined` when deep
   * inspection did not run for this account (off, or the account has no association row).
   */
  readonly perimeterConfigurations: Observed<readonly PerimeterConfiguration[]> | undefined;
  /**
   * What the perimeter's access logs say (NSP-07, deep inspection; src/collect/accessLogs.ts).
   * `undefined` when they were not read for this account: deep inspection off, the account not in
   * Learning mode when the plan was made, or an evaluation that does not read them.
   */
  readonly accessLogs?: AccessLogReading;
}

/** One would-be-denied flow of an account (NSPAccessLogs, summed over the window). */
export interface AccessLogFlow {
  /** `Inbound` or `Outbound` (the record's `ResultDirection`). */
  readonly direction: string;
  /** `NspPublicInboundResourceRulesAllowed` or `NspPublicOutboundResourceRulesAllowed`. */
  readonly category: string;
  /** Attacker-influenced text from the log, as recorded; '' when absent. */
  readonly sourceIpAddress: string;
  readonly sourceResourceId: string;
  readonly destinationFqdn: string;
  /** Records (count). */
  readonly count: number;
  /** The latest record's time (ISO 8601). */
  readonly lastSeen: string;
}

/**
 * What the access logs say about one account over the window (AZURE-FACTS.md, "Perimeter access logs").
 * - `read`: every Learning-mode perimeter of the account sends its logs to a workspace, and each
 *   was queried completely.
 * - `incomplete`: some of it could not be read (`reason`); `flows` holds what was read — a flow
 *   seen is certain, its absence is not.
 * - `no-destination`: no diagnostic setting of the account's Learning-mode perimeters sends both
 *   would-be-denied categories to a Log Analytics workspace (NSP-06's remedy).
 */
export type AccessLogReading
  = | {
    readonly status: 'read' | 'incomplete';
    /** The window read (days). */
    readonly windowDays: number;
    /** Workspaces (resource IDs) whose logs were read for the account. */
    readonly workspaces: readonly string[];
    /** Every record of the account in the window, of any category (count). */
    readonly records: number;
    /** The would-be-denied flows, most records first. */
    readonly flows: readonly AccessLogFlow[];
    /** Why the reading is incomplete (absent when `read`). */
    readonly reason?: string;
  }
  | { readonly status: 'no-destination'; readonly windowDays: number; readonly reason: string };

/** `properties.publicNetworkAccess` and `properties.networkAcls`, defaults applied. */
export interface NetworkSettings {
  /** `Enabled` (default), `Disabled` or `SecuredByPerimeter`; other strings are kept as given. */
  readonly publicNetworkAccess: string;
  /** `Allow` (default) or `Deny`. */
  readonly defaultAction: string;
  /** `None` (default) or `AzureServices`. */
  readonly bypass: string;
  /** `networkAcls.ipRules[*].value`, as given (may be invalid; NET-03 reports that). */
  readonly ipRules: readonly string[];
  /** `networkAcls.virtualNetworkRules[*].id`, as given. */
  readonly virtualNetworkRules: readonly string[];
}

/** The account's `identity` block. */
export interface ManagedIdentity {
  /** `identity.type` as given; `None` when absent. */
  readonly type: string;
  readonly systemAssigned: boolean;
  readonly userAssigned: boolean;
  /** Principal IDs (lower-case GUIDs): the system-assigned one and every user-assigned one. */
  readonly principalIds: readonly string[];
}

export interface PrivateEndpointConnection {
  readonly id: string;
  /** `Approved`, `Pending`, `Rejected`, `Disconnected`, or `Unknown` when absent. */
  readonly status: string;
}

/** A `microsoft.network/networksecurityperimeters/resourceassociations` row. */
export interface PerimeterAssociation {
  readonly id: string;
  /** `…/networkSecurityPerimeters/{name}`: the parent of the association ID. */
  readonly perimeterId: string;
  readonly perimeterName: string;
  /** `properties.profile.id`, or '' when absent. */
  readonly profileId: string;
  /** `Learning` (default), `Enforced` or `Audit`; other strings kept as given. */
  readonly accessMode: string;
  /** `Succeeded` when absent. */
  readonly provisioningState: string;
  /** `properties.privateLinkResource.id`. */
  readonly resourceId: string;
}

/** A `…/profiles/accessrules` row (or an access rule from a perimeter configuration). */
export interface AccessRule {
  readonly id: string;
  readonly name: string;
  readonly profileId: string;
  /** `Inbound` or `Outbound`. */
  readonly direction: string;
  readonly addressPrefixes: readonly string[];
  readonly subscriptionIds: readonly string[];
  readonly fullyQualifiedDomainNames: readonly string[];
}

/** A `microsoft.authorization/roleassignments` row. */
export interface RoleAssignment {
  readonly id: string;
  /** Lower-case GUID. */
  readonly principalId: string;
  readonly roleDefinitionId: string;
  /** The role definition GUID (last segment of `roleDefinitionId`), lower-case. */
  readonly roleId: string;
  readonly scope: string;
}

/** One entry of the account's `networkSecurityPerimeterConfigurations` (deep inspection). */
export interface PerimeterConfiguration {
  readonly name: string;
  readonly provisioningState: string;
  readonly provisioningIssues: readonly {
    readonly issueType: string;
    readonly severity: string;
    readonly description: string;
  }[];
  readonly perimeterId: string;
  readonly accessMode: string;
  readonly enabledLogCategories: readonly string[];
}

/** A `microsoft.storage/storageaccounts` row, with what ID-04 needs. */
export interface StorageAccount {
  readonly id: string;
  readonly name: string;
  /** Perimeters (lower-case IDs) with which the storage account has a `Succeeded` association. */
  readonly perimeterIds: Observed<ReadonlySet<string>>;
}

/** A `microsoft.documentdb/databaseaccounts` row, with what ID-04 needs (the same shape as a storage account). */
export type CosmosAccount = StorageAccount;

/** A `microsoft.search/searchservices` row: AI Search is reached only through an outbound rule (ID-04). */
export interface SearchService {
  readonly id: string;
  readonly name: string;
}

/** One Cosmos DB data-plane role assignment (`{cosmosAccountId}/sqlRoleAssignments/{guid}`). */
export interface CosmosRoleAssignment {
  readonly id: string;
  /** The Cosmos DB account it belongs to (the parent of `id`). */
  readonly accountId: string;
  /** Lower-case GUID. */
  readonly principalId: string;
  /** `…/sqlRoleDefinitions/{guid}` (built-in Data Reader `…0001`, Data Contributor `…0002`, or custom). */
  readonly roleDefinitionId: string;
  /** The account, a database (`…/dbs/{db}`) or a container below it. */
  readonly scope: string;
}

/**
 * The Cosmos DB data-plane role assignments a scan read (src/collect/cosmosRoleAssignments.ts),
 * JSON-serialisable (a fan-out stores it as `cosmosRoleAssignments.json`).
 * - `assignments`: every assignment of the Cosmos DB accounts read;
 * - `unreadable`: lower-case Cosmos DB account ID → why its assignments could not be read (it may
 *   be a data source of any account);
 * - `notRead`: set when the step did not run over the inventory at all (the Cosmos DB table could
 *   not be read, or an evaluation that does not read them): every Cosmos DB account is then unknown.
 */
export interface CosmosRoleAssignments {
  readonly assignments: readonly CosmosRoleAssignment[];
  readonly unreadable: Readonly<Record<string, string>>;
  readonly notRead?: string;
}

/** Azure clouds (their data-source FQDN suffixes differ; rules/dataSources.ts). */
export type CloudName = 'AzureCloud' | 'AzureUSGovernment' | 'AzureChinaCloud';

/**
 * Tenant-wide data a rule may consult besides the account itself.
 * The maps are keyed by lower-case resource ID. The fields marked optional are absent when the
 * evaluation did not read them (a change event): the rules then treat those data sources as unknown.
 */
export interface TenantContext {
  readonly storageAccounts: ReadonlyMap<string, StorageAccount>;
  /** Cosmos DB accounts (Resource Graph `resources`), with their perimeters through the associations index. */
  readonly cosmosAccounts?: ReadonlyMap<string, CosmosAccount>;
  /** Azure AI Search services (Resource Graph `resources`). */
  readonly searchServices?: ReadonlyMap<string, SearchService>;
  /** Cosmos DB data-plane role assignments (ARM, once per scan). */
  readonly cosmosRoleAssignments?: CosmosRoleAssignments;
  /** The cloud scanned (FQDN suffixes of data sources). Default `AzureCloud`. */
  readonly cloud?: CloudName;
}
