import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { ResourceEvent } from '../../src/events/parse.js';
import { ROUTED_OPERATIONS, routeEvent } from '../../src/events/route.js';

const S = '/subscriptions/0000/resourceGroups/rg/providers';
const ACCOUNT = `${S}/Microsoft.CognitiveServices/accounts/a1`;
const NSP = `${S}/Microsoft.Network/networkSecurityPerimeters/p1`;
const RA = `${S}/Microsoft.Storage/storageAccounts/s1/providers/Microsoft.Authorization/roleAssignments/0001`;
const SEARCH = `${S}/Microsoft.Search/searchServices/srch1`;
const COSMOS = `${S}/Microsoft.DocumentDB/databaseAccounts/cosmos1`;
const SQL_RA = `${COSMOS}/sqlRoleAssignments/7c1e0d2a-4b3f-4e5a-9c8d-1f2e3a4b5c6d`;

function e(operationName: string, subject: string): ResourceEvent {
  return { id: 'x', type: 'Microsoft.Resources.ResourceWriteSuccess', subject, operationName, time: '' };
}

describe('routing change events', () => {
  const cases: Array<[string, string, unknown]> = [
    ['Microsoft.CognitiveServices/accounts/write', ACCOUNT, { kind: 'account', accountId: ACCOUNT }],
    ['microsoft.cognitiveservices/ACCOUNTS/delete', ACCOUNT, { kind: 'account', accountId: ACCOUNT }],
    ['Microsoft.CognitiveServices/accounts/networkSecurityPerimeterConfigurations/reconcile/action', `${ACCOUNT}/networkSecurityPerimeterConfigurations/c1`, { kind: 'account', accountId: ACCOUNT }],
    ['Microsoft.Network/networkSecurityPerimeters/resourceAssociations/write', `${NSP}/resourceAssociations/as1`, { kind: 'association', associationId: `${NSP}/resourceAssociations/as1` }],
    ['Microsoft.Network/networkSecurityPerimeters/resourceAssociations/delete', `${NSP}/resourceAssociations/as1`, { kind: 'association', associationId: `${NSP}/resourceAssociations/as1` }],
    ['Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/write', `${NSP}/profiles/pr/accessRules/r1`, { kind: 'profile', profileId: `${NSP}/profiles/pr` }],
    ['Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/delete', `${NSP}/profiles/pr/accessRules/r1`, { kind: 'profile', profileId: `${NSP}/profiles/pr` }],
    ['Microsoft.Network/networkSecurityPerimeters/profiles/write', `${NSP}/profiles/pr`, { kind: 'profile', profileId: `${NSP}/profiles/pr` }],
    ['Microsoft.Network/networkSecurityPerimeters/profiles/delete', `${NSP}/profiles/pr`, { kind: 'profile', profileId: `${NSP}/profiles/pr` }],
    ['Microsoft.Authorization/roleAssignments/write', RA, { kind: 'roleAssignment', roleAssignmentId: RA }],
    ['Microsoft.Authorization/roleAssignments/delete', RA, { kind: 'roleAssignment', roleAssignmentId: RA }],
    ['Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/write', SQL_RA, { kind: 'cosmosRoleAssignment', assignmentId: SQL_RA, cosmosAccountId: COSMOS }],
    ['Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/delete', SQL_RA, { kind: 'cosmosRoleAssignment', assignmentId: SQL_RA, cosmosAccountId: COSMOS }],
  ];
  for (const [op, subject, expected] of cases) {
    it(`${op}`, () => assert.deepEqual(routeEvent(e(op, subject)), expected));
  }
  it('ROUTED_OPERATIONS (the Event Grid filter of infra/) is exactly the operations routed above', () => {
    const canonical = (o: string) => ROUTED_OPERATIONS.find((r) => r.toLowerCase() === o.toLowerCase()) ?? o;
    assert.deepEqual([...ROUTED_OPERATIONS].sort(), cases.map(([op]) => canonical(op)).sort());
    for (const op of ROUTED_OPERATIONS) {
      const [, subject] = cases.find(([o]) => o.toLowerCase() === op.toLowerCase()) ?? [];
      assert.ok(subject, op);
      assert.notEqual(routeEvent(e(op, subject)).kind, 'ignored', op);
    }
  });
  it('a role assignment scoped to a Search service, or below it, is routed as any other (its principal names the accounts)', () => {
    for (const scope of [SEARCH, `${SEARCH}/indexes/idx1`]) {
      const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/0002`;
      for (const op of ['Microsoft.Authorization/roleAssignments/write', 'Microsoft.Authorization/roleAssignments/delete']) {
        assert.deepEqual(routeEvent(e(op, id)), { kind: 'roleAssignment', roleAssignmentId: id }, `${op} ${scope}`);
      }
    }
  });
  it('a Cosmos DB SQL role assignment: the subject\'s Cosmos DB account whatever the spelling; a malformed subject is ignored with the reason', () => {
    const lower = SQL_RA.toLowerCase();
    assert.deepEqual(routeEvent(e('microsoft.documentdb/DATABASEACCOUNTS/sqlroleassignments/write', lower)), { kind: 'cosmosRoleAssignment', assignmentId: lower, cosmosAccountId: COSMOS.toLowerCase() });
    for (const subject of [
      COSMOS, // the account, not an assignment
      `${COSMOS}/sqlRoleAssignments`, // no assignment name
      `${COSMOS}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000001`, // a role definition
      `${COSMOS}/sqlRoleAssignments/a1/extra`, // below an assignment
      `${S}/Microsoft.Storage/storageAccounts/s1/sqlRoleAssignments/a1`, // not a Cosmos DB account
      `/subscriptions/0000/providers/Microsoft.DocumentDB/databaseAccounts/cosmos1/sqlRoleAssignments/a1`, // no resource group
    ]) {
      const r = routeEvent(e('Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/delete', subject));
      assert.deepEqual(r, { kind: 'ignored', reason: 'subject is not a Cosmos DB SQL role assignment ID' }, subject);
    }
  });
  it('ignores other operations and subjects of the wrong shape, with a reason', () => {
    for (const [op, subject] of [
      ['Microsoft.CognitiveServices/accounts/listKeys/action', ACCOUNT],
      ['Microsoft.Compute/virtualMachines/write', `${S}/Microsoft.Compute/virtualMachines/vm`],
      ['Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/write', `${NSP}/profiles/pr`],
      ['Microsoft.Authorization/roleAssignments/write', `${S}/Microsoft.Storage/storageAccounts/s1`],
      ['Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions/write', `${COSMOS}/sqlRoleDefinitions/d1`],
      ['Microsoft.DocumentDB/databaseAccounts/write', COSMOS],
    ] as const) {
      const r = routeEvent(e(op, subject));
      assert.equal(r.kind, 'ignored', op);
      if (r.kind === 'ignored') assert.ok(r.reason.length > 10);
    }
  });
});
