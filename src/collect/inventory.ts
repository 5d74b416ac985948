/**
 * What the collector read, in raw ARM shape, before normalization. Only `src/collect/` sees this.
 */

/** The Resource Graph tables and types the scan reads (AZURE-FACTS.md, "Tables and row shapes"). */
export const TABLES = {
  subscriptions: { table: 'resourcecontainers', type: 'microsoft.resources/subscriptions' },
  accounts: { table: 'resources', type: 'microsoft.cognitiveservices/accounts' },
  storageAccounts: { table: 'resources', type: 'microsoft.storage/storageaccounts' },
  perimeters: { table: 'networkresources', type: 'microsoft.network/networksecurityperimeters' },
  associations: { table: 'networkresources', type: 'microsoft.network/networksecurityperimeters/resourceassociations' },
  profiles: { table: 'networkresources', type: 'microsoft.network/networksecurityperimeters/profiles' },
  accessRules: { table: 'networkresources', type: 'microsoft.network/networksecurityperimeters/profiles/accessrules' },
  roleAssignments: { table: 'authorizationresources', type: 'microsoft.authorization/roleassignments' },
} as const;

export type TableName = keyof typeof TABLES;

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
  readonly tables: Readonly<Record<Exclude<TableName, 'subscriptions'>, TableRead>>;
}
