import pLimit from 'p-limit';
import { z } from 'zod';
import { idKey } from '../domain/resourceId.js';
import type { CosmosRoleAssignment, CosmosRoleAssignments } from '../domain/snapshot.js';
import { ARM_API_VERSIONS, type ArmReader } from './armReads.js';
import { describeError } from './resourceGraph.js';

/**
 * Cosmos DB data-plane role assignments (ID-02, ID-04), the collection step. They are not ARM role
 * assignments and Resource Graph does not list them: each Cosmos DB account's
 * `GET {accountId}/sqlRoleAssignments?api-version=2025-04-15` (ARM; `value[]` of
 * `{ id, properties: { principalId, roleDefinitionId, scope } }`) is read once per scan, through the
 * project's ArmReader (paging, shape checks, 404 as an empty list; the ARM client's throttling policy
 * retries 429 and timeouts), at most 32 reads in flight (as the access logs' ARM reads).
 *
 * Nothing here throws for one account: a refused, failed or malformed read makes that account
 * `unreadable`, with the reason.
 */

/** The api-version of the `sqlRoleAssignments` read (the newest stable one of Microsoft.DocumentDB). */
export const COSMOS_SQL_ROLE_ASSIGNMENTS_API_VERSION = ARM_API_VERSIONS.cosmosDb;

/** Most reads in flight (count): the accounts spread over subscriptions, whose ARM read limits are separate. */
const READS_IN_FLIGHT = 32;

const ItemSchema = z.object({
  id: z.string().min(1),
  properties: z.object({
    principalId: z.string().min(1),
    roleDefinitionId: z.string().min(1),
    scope: z.string(),
  }),
});

/**
 * Reads the `sqlRoleAssignments` of each Cosmos DB account.
 * @param accountIds Cosmos DB account resource IDs (as Resource Graph gave them)
 * @returns every assignment read, and the accounts (lower-case ID → reason) that could not be read
 */
export async function collectCosmosRoleAssignments(
  accountIds: Iterable<string>,
  o: { readonly arm: ArmReader; readonly log?: (line: string) => void },
): Promise<CosmosRoleAssignments> {
  const assignments: CosmosRoleAssignment[] = [];
  const unreadable: Record<string, string> = {};
  const limit = pLimit(READS_IN_FLIGHT);
  const ids = [...new Map([...accountIds].map((id) => [idKey(id), id] as const)).values()];
  await Promise.all(
    ids.map((accountId) =>
      limit(async () => {
        try {
          const items = await o.arm.list(`${accountId}/sqlRoleAssignments`, COSMOS_SQL_ROLE_ASSIGNMENTS_API_VERSION);
          const read: CosmosRoleAssignment[] = [];
          for (const item of items) {
            const r = ItemSchema.safeParse(item);
            if (!r.success) throw new Error(`a malformed sqlRoleAssignments item (${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? ''})`);
            read.push({
              id: r.data.id,
              accountId,
              principalId: r.data.properties.principalId.toLowerCase(),
              roleDefinitionId: r.data.properties.roleDefinitionId,
              scope: r.data.properties.scope,
            });
          }
          assignments.push(...read);
        } catch (error) {
          unreadable[idKey(accountId)] = `the sqlRoleAssignments of ${accountId} could not be read: ${describeError(error).message}`;
        }
      }),
    ),
  );
  assignments.sort((a, b) => idKey(a.id).localeCompare(idKey(b.id)));
  o.log?.(`Cosmos DB sqlRoleAssignments: ${ids.length} account(s) read, ${assignments.length} assignment(s), ${Object.keys(unreadable).length} unreadable`);
  return { assignments, unreadable };
}
