import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { ResourceEvent } from '../../src/events/parse.js';
import { ROUTED_OPERATIONS, routeEvent } from '../../src/events/route.js';

const S = '/subscriptions/0000/resourceGroups/rg/providers';
const ACCOUNT = `${S}/Microsoft.CognitiveServices/accounts/a1`;
const NSP = `${S}/Microsoft.Network/networkSecurityPerimeters/p1`;
const RA = `${S}/Microsoft.Storage/storageAccounts/s1/providers/Microsoft.Authorization/roleAssignments/0001`;

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
  it('ignores other operations and subjects of the wrong shape, with a reason', () => {
    for (const [op, subject] of [
      ['Microsoft.CognitiveServices/accounts/listKeys/action', ACCOUNT],
      ['Microsoft.Compute/virtualMachines/write', `${S}/Microsoft.Compute/virtualMachines/vm`],
      ['Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/write', `${NSP}/profiles/pr`],
      ['Microsoft.Authorization/roleAssignments/write', `${S}/Microsoft.Storage/storageAccounts/s1`],
    ] as const) {
      const r = routeEvent(e(op, subject));
      assert.equal(r.kind, 'ignored', op);
      if (r.kind === 'ignored') assert.ok(r.reason.length > 10);
    }
  });
});
