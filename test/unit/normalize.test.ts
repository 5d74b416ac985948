import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { RawInventory, TableRead } from '../../src/collect/inventory.js';
import { normalize, withPerimeterConfigurations } from '../../src/collect/normalize.js';
import { read, unread } from '../../src/domain/observed.js';

const SUB = '11111111-0000-4000-8000-000000000001';
const OTHER = '22222222-0000-4000-8000-000000000002';
const acct = (name: string, sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/${name}`;
const NSP = `/subscriptions/${SUB}/resourceGroups/net/providers/Microsoft.Network/networkSecurityPerimeters/nsp1`;
const PROFILE = `${NSP}/profiles/p1`;
const P1 = '00000000-0000-4000-8000-0000000000a1';

function row(name: string, extra: Record<string, unknown> = {}) {
  return {
    id: acct(name),
    name,
    type: 'microsoft.cognitiveservices/accounts',
    kind: 'OpenAI',
    location: 'eastus',
    properties: {},
    ...extra,
  };
}

function inventory(tables: Partial<Record<keyof RawInventory['tables'], TableRead>>, subs = [SUB]): RawInventory {
  const empty = { rows: [] };
  return {
    subscriptions: subs.map((id) => ({ id, status: 'read' as const })),
    tables: {
      accounts: empty,
      storageAccounts: empty,
      associations: empty,
      accessRules: empty,
      roleAssignments: empty,
      ...tables,
    },
  };
}

function only(raw: RawInventory) {
  const n = normalize(raw);
  assert.equal(n.accounts.length, 1, JSON.stringify(n.problems));
  const [a] = n.accounts;
  assert.ok(a);
  return { account: a, n };
}

describe('normalize', () => {
  it('reads a projected row whose properties did not exist as unread, not as Azure defaults', () => {
    // The projected query rebuilds `properties` with pack(), which gives a bag of nulls for an absent bag.
    const keys = ['publicNetworkAccess', 'networkAcls', 'disableLocalAuth', 'restrictOutboundNetworkAccess', 'encryption', 'privateEndpointConnections'];
    const nulls = Object.fromEntries(keys.map((k) => [k, null]));
    const absent = only(inventory({ accounts: { rows: [JSON.stringify(row('a', { hasProperties: false, properties: nulls }))] } })).account;
    assert.equal(absent.network.ok, false);
    assert.equal(absent.disableLocalAuth.ok, false);
    const present = only(inventory({ accounts: { rows: [JSON.stringify(row('a', { hasProperties: true, properties: nulls }))] } })).account;
    assert.deepEqual(present.disableLocalAuth, read(false));
    assert.equal(present.network.ok && present.network.value.publicNetworkAccess, 'Enabled');
  });

  it('applies the Azure defaults of RULES.md to absent and null properties', () => {
    const { account } = only(
      inventory({ accounts: { rows: [row('a', { properties: { publicNetworkAccess: null, networkAcls: null } })] } }),
    );
    assert.deepEqual(
      account.network,
      read({
        publicNetworkAccess: 'Enabled',
        defaultAction: 'Allow',
        bypass: 'None',
        ipRules: [],
        virtualNetworkRules: [],
      }),
    );
    assert.deepEqual(account.disableLocalAuth, read(false));
    assert.deepEqual(account.restrictOutboundNetworkAccess, read(false));
    assert.deepEqual(account.encryptionKeySource, read('Microsoft.CognitiveServices'));
    assert.deepEqual(
      account.identity,
      read({ type: 'None', systemAssigned: false, userAssigned: false, principalIds: [] }),
    );
    assert.deepEqual(account.associations, read([]));
    assert.deepEqual(account.roleAssignments, read([]));
    assert.equal(account.perimeterConfigurations, undefined);
  });

  it('reads network rules, identity principals and private endpoints in raw ARM shape', () => {
    const { account } = only(
      inventory({
        accounts: {
          rows: [
            row('a', {
              identity: {
                type: 'SystemAssigned, UserAssigned',
                principalId: 'AAAA0000-0000-4000-8000-000000000001',
                userAssignedIdentities: {
                  '/x/uami': { principalId: 'bbbb0000-0000-4000-8000-000000000002', clientId: 'c' },
                },
              },
              properties: {
                publicNetworkAccess: 'Enabled',
                networkAcls: {
                  defaultAction: 'Deny',
                  bypass: 'AzureServices',
                  ipRules: [{ value: '1.2.3.4' }],
                  virtualNetworkRules: [{ id: '/s/1' }],
                },
                privateEndpointConnections: [
                  { id: 'pe1', properties: { privateLinkServiceConnectionState: { status: 'Pending' } } },
                ],
              },
            }),
          ],
        },
      }),
    );
    assert.ok(account.network.ok && account.identity.ok && account.privateEndpointConnections.ok);
    assert.deepEqual(account.network.value.ipRules, ['1.2.3.4']);
    assert.deepEqual(account.network.value.virtualNetworkRules, ['/s/1']);
    assert.equal(account.identity.value.systemAssigned && account.identity.value.userAssigned, true);
    assert.deepEqual(account.identity.value.principalIds, [
      'aaaa0000-0000-4000-8000-000000000001',
      'bbbb0000-0000-4000-8000-000000000002',
    ]);
    assert.deepEqual(account.privateEndpointConnections.value, [{ id: 'pe1', status: 'Pending' }]);
  });

  it('makes only the malformed part of a row unread', () => {
    const { account } = only(
      inventory({
        accounts: { rows: [row('a', { properties: { networkAcls: { ipRules: 'x' }, disableLocalAuth: 'yes' } })] },
      }),
    );
    assert.equal(account.network.ok, false);
    assert.equal(account.disableLocalAuth.ok, false);
    assert.match(account.disableLocalAuth.ok ? '' : account.disableLocalAuth.reason, /disableLocalAuth/);
    assert.deepEqual(account.restrictOutboundNetworkAccess, read(false));
    assert.deepEqual(account.identity.ok, true);
  });

  it('makes every property unread when properties are missing, not defaulted', () => {
    const { account } = only(inventory({ accounts: { rows: [row('a', { properties: undefined })] } }));
    for (const part of [
      account.network,
      account.disableLocalAuth,
      account.encryptionKeySource,
      account.privateEndpointConnections,
    ]) {
      assert.equal(part.ok, false);
    }
  });

  it('re-checks type and scope, and de-duplicates rows by case-insensitive ID', () => {
    const n = normalize(
      inventory({
        accounts: {
          rows: [
            row('a'),
            {
              ...row('a'),
              id: acct('a')
                .toUpperCase()
                .replace('/SUBSCRIPTIONS/', '/subscriptions/')
                .replace('RESOURCEGROUPS', 'resourceGroups')
                .replace('PROVIDERS', 'providers'),
            },
            row('b', { type: 'microsoft.storage/storageaccounts' }),
            { ...row('c'), id: acct('c', OTHER) },
            'not an object',
            { name: 'no-id', type: 'microsoft.cognitiveservices/accounts' },
          ],
        },
      }),
    );
    assert.deepEqual(
      n.accounts.map((a) => a.name),
      ['a'],
    );
    assert.equal(n.problems.length, 1);
    assert.match(n.problems[0] ?? '', /without a valid Cognitive Services account id/);
  });

  it('attaches associations and the union of their profiles rules', () => {
    const { account } = only(
      inventory({
        accounts: { rows: [row('a')] },
        associations: {
          rows: [
            {
              id: `${NSP}/resourceAssociations/as1`,
              type: 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations',
              properties: {
                privateLinkResource: { id: acct('A').replace('/accounts/A', '/ACCOUNTS/a') },
                profile: { id: PROFILE },
                provisioningState: 'Succeeded',
              },
            },
          ],
        },
        accessRules: {
          rows: [
            {
              id: `${PROFILE}/accessRules/in1`,
              type: 'microsoft.network/networksecurityperimeters/profiles/accessrules',
              properties: { direction: 'Inbound', addressPrefixes: ['1.2.3.0/24'] },
            },
            {
              id: `${NSP}/profiles/other/accessRules/x`,
              type: 'microsoft.network/networksecurityperimeters/profiles/accessrules',
              properties: { direction: 'Inbound', addressPrefixes: ['0.0.0.0/0'] },
            },
          ],
        },
      }),
    );
    assert.ok(account.associations.ok && account.accessRules.ok);
    assert.equal(account.associations.value.length, 1);
    const [a] = account.associations.value;
    assert.equal(a?.accessMode, 'Learning', 'absent accessMode defaults to Learning');
    assert.equal(a?.perimeterId, NSP);
    assert.equal(a?.perimeterName, 'nsp1');
    assert.deepEqual(
      account.accessRules.value.map((r) => r.name),
      ['in1'],
    );
  });

  it('a failed table makes the data it holds unread, with the reason', () => {
    const { account } = only(
      inventory({
        accounts: { rows: [row('a')] },
        associations: { rows: [], failure: 'HTTP 500 InternalServerError' },
      }),
    );
    assert.equal(account.associations.ok, false);
    assert.match(
      account.associations.ok ? '' : account.associations.reason,
      /perimeter associations could not be read \(HTTP 500/,
    );
    assert.equal(account.accessRules.ok, false);
  });

  it('a malformed association row makes its resource unread; one without a target makes all unread', () => {
    const assoc = (target: unknown) => ({
      id: `${NSP}/resourceAssociations/x`,
      type: 'microsoft.network/networksecurityperimeters/resourceassociations',
      properties: { privateLinkResource: { id: target }, accessMode: 42 },
    });
    const attributable = normalize(
      inventory({ accounts: { rows: [row('a'), row('b')] }, associations: { rows: [assoc(acct('a'))] } }),
    );
    const [a, b] = attributable.accounts;
    assert.equal(a?.associations.ok, false);
    assert.deepEqual(b?.associations, read([]));
    const orphan = normalize(
      inventory({ accounts: { rows: [row('a'), row('b')] }, associations: { rows: [assoc(undefined)] } }),
    );
    assert.ok(orphan.accounts.every((x) => !x.associations.ok));
    assert.match(orphan.problems.join(), /could concern any account/);
  });

  it('collects role assignments of every principal; a principal with a malformed row is unread', () => {
    const ra = (id: string, principalId: unknown, roleGuid = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe') => ({
      id: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleAssignments/${id}`,
      type: 'microsoft.authorization/roleassignments',
      properties: {
        principalId,
        roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid.toUpperCase()}`,
        scope: `/subscriptions/${SUB}`,
      },
    });
    const good = only(
      inventory({
        accounts: { rows: [row('a', { identity: { type: 'SystemAssigned', principalId: P1 } })] },
        roleAssignments: { rows: [ra('1', P1.toUpperCase()), ra('2', '99999999-0000-4000-8000-000000000000')] },
      }),
    ).account;
    assert.ok(good.roleAssignments.ok);
    assert.deepEqual(
      good.roleAssignments.value.map((r) => r.roleId),
      ['ba92f5b4-2d11-453d-a403-e96b0029c9fe'],
    );

    const bad = only(
      inventory({
        accounts: { rows: [row('a', { identity: { type: 'SystemAssigned', principalId: P1 } })] },
        roleAssignments: { rows: [{ ...ra('1', P1), properties: { principalId: P1, roleDefinitionId: 7 } }] },
      }),
    ).account;
    assert.equal(bad.roleAssignments.ok, false);
  });

  it('an identity that names a principal it does not list makes role assignments unread', () => {
    const { account } = only(inventory({ accounts: { rows: [row('a', { identity: { type: 'SystemAssigned' } })] } }));
    assert.equal(account.identity.ok, true);
    assert.equal(account.roleAssignments.ok, false);
    assert.match(account.roleAssignments.ok ? '' : account.roleAssignments.reason, /no principalId/);
  });

  it('storage inventory carries Succeeded associations of each storage account', () => {
    const sa = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`;
    const n = normalize(
      inventory({
        storageAccounts: { rows: [{ id: sa, type: 'microsoft.storage/storageaccounts', name: 'st1' }] },
        associations: {
          rows: [
            {
              id: `${NSP}/resourceAssociations/s1`,
              type: 'microsoft.network/networksecurityperimeters/resourceassociations',
              properties: { privateLinkResource: { id: sa }, provisioningState: 'Succeeded' },
            },
            {
              id: `${NSP}2/resourceAssociations/s2`,
              type: 'microsoft.network/networksecurityperimeters/resourceassociations',
              properties: { privateLinkResource: { id: sa }, provisioningState: 'Failed' },
            },
          ],
        },
      }),
    );
    const st = n.tenant.storageAccounts.get(sa.toLowerCase());
    assert.ok(st?.perimeterIds.ok);
    assert.deepEqual([...st.perimeterIds.value], [NSP.toLowerCase()]);
  });

  it('validates perimeter configurations when they are attached', () => {
    const { account } = only(inventory({ accounts: { rows: [row('a')] } }));
    const ok = withPerimeterConfigurations(
      account,
      read([
        {
          name: 'c1',
          properties: {
            provisioningState: 'Succeeded',
            profile: { enabledLogCategories: ['x'] },
            provisioningIssues: [{ name: 'I', properties: { issueType: 'T', description: 'd' } }],
          },
        },
      ]),
    );
    assert.deepEqual(ok.perimeterConfigurations?.ok && ok.perimeterConfigurations.value[0]?.provisioningIssues, [
      { issueType: 'T', severity: 'Unknown', description: 'd' },
    ]);
    const malformed = withPerimeterConfigurations(
      account,
      read([{ name: 'c1', properties: { provisioningIssues: 'boom' } }]),
    );
    assert.equal(malformed.perimeterConfigurations?.ok, false);
    const failed = withPerimeterConfigurations(account, unread('HTTP 403'));
    assert.deepEqual(failed.perimeterConfigurations, unread('HTTP 403'));
  });
});
