/**
 * What the collector read, in raw ARM shape, before normalization. Only `src/collect/` sees this.
 */

/**
 * The Resource Graph tables and types the scan reads (AZURE-FACTS.md, "Tables and row shapes"), and
 * for each the columns it projects: only what the normalizer reads, in the raw ARM shape (nested
 * `properties` rebuilt with KQL `pack`, absent values as null, which the normalizer treats as absent).
 * An account row's `properties` bag is large (capabilities, endpoints); projecting it is what keeps a
 * 1000-row page small. Perimeter and profile rows are not read: no rule needs more of them than the
 * association and access-rule IDs already name.
 */
export const TABLES = {
  subscriptions: { table: 'resourcecontainers', type: 'microsoft.resources/subscriptions', project: 'id, name, type, subscriptionId' },
  accounts: {
    table: 'resources',
    type: 'microsoft.cognitiveservices/accounts',
    project:
      'id, name, type, kind, location, subscriptionId, resourceGroup, tags, identity, '
      + 'hasProperties = isnotnull(properties), '
      + 'properties = pack(\'publicNetworkAccess\', properties.publicNetworkAccess, \'networkAcls\', properties.networkAcls, '
      + '\'disableLocalAuth\', properties.disableLocalAuth, \'restrictOutboundNetworkAccess\', properties.restrictOutboundNetworkAccess, '
      + '\'encryption\', properties.encryption, \'privateEndpointConnections\', properties.privateEndpointConnections)',
  },
  storageAccounts: { table: 'resources', type: 'microsoft.storage/storageaccounts', project: 'id, type, subscriptionId' },
  /** Data sources of ID-02/ID-04: the name is the ID's last segment; the perimeter comes from the associations. */
  cosmosAccounts: { table: 'resources', type: 'microsoft.documentdb/databaseaccounts', project: 'id, type, subscriptionId' },
  searchServices: { table: 'resources', type: 'microsoft.search/searchservices', project: 'id, type, subscriptionId' },
  associations: {
    table: 'networkresources',
    type: 'microsoft.network/networksecurityperimeters/resourceassociations',
    project:
      'id, type, subscriptionId, properties = pack(\'privateLinkResource\', properties.privateLinkResource, \'profile\', properties.profile, '
      + '\'accessMode\', properties.accessMode, \'provisioningState\', properties.provisioningState)',
  },
  accessRules: {
    table: 'networkresources',
    type: 'microsoft.network/networksecurityperimeters/profiles/accessrules',
    project:
      'id, name, type, subscriptionId, properties = pack(\'direction\', properties.direction, \'addressPrefixes\', properties.addressPrefixes, '
      + '\'subscriptions\', properties.subscriptions, \'fullyQualifiedDomainNames\', properties.fullyQualifiedDomainNames, '
      + '\'provisioningState\', properties.provisioningState)',
  },
  roleAssignments: {
    table: 'authorizationresources',
    type: 'microsoft.authorization/roleassignments',
    project:
      'id, type, subscriptionId, properties = pack(\'principalId\', properties.principalId, \'roleDefinitionId\', properties.roleDefinitionId, '
      + '\'scope\', properties.scope)',
  },
} as const;

export type TableName = keyof typeof TABLES;

/** Tables an inventory may lack (a change event reads none of them): their data sources are then unknown to the rules. */
export type OptionalTableName = 'cosmosAccounts' | 'searchServices';

/** Rows of one table/type, and whether all of them could be read. */
export interface TableRead {
  readonly rows: readonly unknown[];
  /** Set when some or all rows could not be read (a failed query, a truncated result). */
  readonly failure?: string;
}

/** Coverage of one subscription in scope. */
export interface SubscriptionCoverage {
  readonly id: string;
  readonly name?: string;
  readonly status: 'read' | 'unreadable';
  readonly reason?: string;
}

/** Everything a scan collected. */
export interface RawInventory {
  /** Subscriptions in scope, with whether their accounts could be read. */
  readonly subscriptions: readonly SubscriptionCoverage[];
  readonly tables: Readonly<Record<Exclude<TableName, 'subscriptions' | OptionalTableName>, TableRead>>
    & Readonly<Partial<Record<OptionalTableName, TableRead>>>;
}
