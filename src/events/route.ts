import { parentId } from '../domain/resourceId.js';
import type { ResourceEvent } from './parse.js';

/**
 * From an event to what must be re-evaluated (issue: change events, "From event to affected accounts").
 */
export type ChangeTarget
  = | { readonly kind: 'account'; readonly accountId: string }
    | { readonly kind: 'association'; readonly associationId: string }
    | { readonly kind: 'profile'; readonly profileId: string }
    | { readonly kind: 'roleAssignment'; readonly roleAssignmentId: string }
    /**
     * A Cosmos DB data-plane role assignment (`{cosmosAccountId}/sqlRoleAssignments/{id}`): ID-02 and
     * ID-04 of the accounts whose principal it names (RULES.md).
     */
    | { readonly kind: 'cosmosRoleAssignment'; readonly assignmentId: string; readonly cosmosAccountId: string }
    | { readonly kind: 'ignored'; readonly reason: string };

const op = (e: ResourceEvent) => e.operationName.toLowerCase();

/**
 * Every `data.operationName` that {@link routeEvent} acts on, as Resource Manager spells it
 * (reference: AZURE-FACTS "Change events"; NSP configuration actions per the Cognitive Services REST
 * API). The Event Grid subscriptions in infra/modules/changeEvents.bicep filter on exactly this list
 * (`StringIn` on `data.operationName`); the drift test compares the two.
 */
export const ROUTED_OPERATIONS: readonly string[] = [
  'Microsoft.CognitiveServices/accounts/write',
  'Microsoft.CognitiveServices/accounts/delete',
  'Microsoft.CognitiveServices/accounts/networkSecurityPerimeterConfigurations/reconcile/action',
  'Microsoft.Network/networkSecurityPerimeters/resourceAssociations/write',
  'Microsoft.Network/networkSecurityPerimeters/resourceAssociations/delete',
  'Microsoft.Network/networkSecurityPerimeters/profiles/write',
  'Microsoft.Network/networkSecurityPerimeters/profiles/delete',
  'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/write',
  'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/delete',
  'Microsoft.Authorization/roleAssignments/write',
  'Microsoft.Authorization/roleAssignments/delete',
  'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/write',
  'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/delete',
];

/** A Cosmos DB data-plane role assignment's ID, capturing the Cosmos DB account's. */
const COSMOS_ROLE_ASSIGNMENT = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.DocumentDB\/databaseAccounts\/[^/]+)\/sqlRoleAssignments\/[^/]+$/i;

/**
 * Routes one event to what it affects; `ignored` (with the reason) for anything else. A role assignment
 * is routed whatever its scope (subscription, group, a storage account, a Search service or below): its
 * principal, not its scope, names the accounts.
 */
export function routeEvent(e: ResourceEvent): ChangeTarget {
  const o = op(e);
  if (/^microsoft\.cognitiveservices\/accounts\/(write|delete)$/.test(o) || /^microsoft\.cognitiveservices\/accounts\/networksecurityperimeterconfigurations\/.+\/action$/.test(o)) {
    const m = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.CognitiveServices\/accounts\/[^/]+)/i.exec(e.subject);
    return m?.[1] ? { kind: 'account', accountId: m[1] } : { kind: 'ignored', reason: 'subject is not an account ID' };
  }
  if (/^microsoft\.network\/networksecurityperimeters\/resourceassociations\/(write|delete)$/.test(o)) {
    return /\/resourceAssociations\/[^/]+$/i.test(e.subject) ? { kind: 'association', associationId: e.subject } : { kind: 'ignored', reason: 'subject is not an association ID' };
  }
  if (/^microsoft\.network\/networksecurityperimeters\/profiles\/accessrules\/(write|delete)$/.test(o)) {
    return /\/profiles\/[^/]+\/accessRules\/[^/]+$/i.test(e.subject) ? { kind: 'profile', profileId: parentId(e.subject) } : { kind: 'ignored', reason: 'subject is not an access rule ID' };
  }
  if (/^microsoft\.network\/networksecurityperimeters\/profiles\/(write|delete)$/.test(o)) {
    return /\/profiles\/[^/]+$/i.test(e.subject) ? { kind: 'profile', profileId: e.subject } : { kind: 'ignored', reason: 'subject is not a profile ID' };
  }
  if (/^microsoft\.authorization\/roleassignments\/(write|delete)$/.test(o)) {
    return /\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/i.test(e.subject)
      ? { kind: 'roleAssignment', roleAssignmentId: e.subject }
      : { kind: 'ignored', reason: 'subject is not a role assignment ID' };
  }
  if (/^microsoft\.documentdb\/databaseaccounts\/sqlroleassignments\/(write|delete)$/.test(o)) {
    const m = COSMOS_ROLE_ASSIGNMENT.exec(e.subject);
    return m?.[1]
      ? { kind: 'cosmosRoleAssignment', assignmentId: e.subject, cosmosAccountId: m[1] }
      : { kind: 'ignored', reason: 'subject is not a Cosmos DB SQL role assignment ID' };
  }
  return { kind: 'ignored', reason: `operation ${e.operationName.slice(0, 120)} does not affect what the rules read` };
}
