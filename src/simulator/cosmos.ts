import type { Row, SimulatorResponse, SimulatorTenant } from './server.js';

/**
 * The simulator's Cosmos DB data-plane role assignments (ID-02, ID-04; src/collect/cosmosRoleAssignments.ts):
 * `GET {cosmosAccountId}/sqlRoleAssignments?api-version=…` answers `{ value: [...] }` of
 * `{ id, name, type, properties: { principalId, roleDefinitionId, scope } }` from the tenant's model;
 * 404 when the Cosmos DB account is not a `resources` row; 403 `AuthorizationFailed` for an account the
 * caller may not read (`forbiddenCosmosAccounts`). Resource Graph does not list these assignments, so
 * they live beside the tables, not in them.
 */

/**
 * The Cosmos DB part of a simulated tenant (fixture file `cosmos.json` in a tenant folder; every
 * field optional there). Read on every request, so a test may change it between scans.
 */
export interface CosmosModel {
  /** Lower-case Cosmos DB account ID → its `sqlRoleAssignments` items. */
  readonly sqlRoleAssignments: Record<string, Row[]>;
  /** Cosmos DB account IDs whose `sqlRoleAssignments` answer 403. */
  readonly forbiddenCosmosAccounts: string[];
}

/** `{cosmosAccountId}/sqlRoleAssignments` (group 1: the account ID). */
export const SQL_ROLE_ASSIGNMENTS_ROUTE
  = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.DocumentDB\/databaseAccounts\/[^/]+)\/sqlRoleAssignments$/i;

const lower = (v: unknown) => String(v ?? '').toLowerCase();

/** The model of a `cosmos.json` fixture (keys lower-cased). */
export function cosmosModel(raw: unknown): CosmosModel {
  const o = (raw ?? {}) as Partial<Record<keyof CosmosModel, unknown>>;
  const assignments = (o.sqlRoleAssignments ?? {}) as Record<string, Row[]>;
  return {
    sqlRoleAssignments: Object.fromEntries(Object.entries(assignments).map(([k, v]) => [k.toLowerCase(), v])),
    forbiddenCosmosAccounts: Array.isArray(o.forbiddenCosmosAccounts) ? o.forbiddenCosmosAccounts.filter((x): x is string => typeof x === 'string') : [],
  };
}

/** The answer to `GET {cosmosAccountId}/sqlRoleAssignments`, or undefined when `path` is not that route. */
export function sqlRoleAssignmentsAnswer(tenant: SimulatorTenant, path: string): SimulatorResponse | undefined {
  const m = SQL_ROLE_ASSIGNMENTS_ROUTE.exec(path);
  if (!m) return undefined;
  const accountId = lower(m[1]);
  if ((tenant.forbiddenCosmosAccounts ?? []).some((id) => lower(id) === accountId)) {
    return {
      status: 403,
      body: { error: { code: 'AuthorizationFailed', message: `The client does not have authorization to perform action 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/read' over scope '${m[1]}'` } },
    };
  }
  const exists = tenant.resources.some((r) => lower(r.type) === 'microsoft.documentdb/databaseaccounts' && lower(r.id) === accountId);
  if (!exists) return { status: 404, body: { error: { code: 'ResourceNotFound', message: `The Resource '${m[1]}' was not found.` } } };
  return { status: 200, body: { value: tenant.sqlRoleAssignments?.[accountId] ?? [] } };
}
