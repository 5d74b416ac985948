import { fact } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { NO_ANCHOR, REF } from './references.js';

/** NET-06: no private endpoint connection is waiting for approval (RULES.md). */
export default defineRule({
  id: 'NET-06',
  slug: 'private-endpoint-connections-reviewed',
  aliases: [],
  title: 'No private endpoint connection is waiting for approval',
  severity: 'low',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts with ≥1 private endpoint connection',
  rationale:
    'A pending private endpoint connection is a request, possibly from another tenant, to reach the account privately; left pending it is one click from approval without review.',
  remediation: {
    description: 'Review each pending connection and approve or reject it.',
    az: 'az network private-endpoint-connection reject --id <connection-resource-id> --description "Not requested by the account owner"',
    bicep: `// Approve only the endpoints you create yourself, in the same template:
resource pe 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: '\${account.name}-pe'
  location: location
  properties: {
    subnet: { id: subnet.id }
    privateLinkServiceConnections: [ { name: 'account', properties: { privateLinkServiceId: account.id, groupIds: [ 'account' ] } } ]
  }
}`,
  },
  references: [REF.privateEndpoints, REF.docVirtualNetworks],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account) =>
    account.privateEndpointConnections.ok
      ? account.privateEndpointConnections.value.length > 0
        ? fact(true, `${account.privateEndpointConnections.value.length} private endpoint connection(s)`)
        : fact(false, 'the account has no private endpoint connections')
      : account.privateEndpointConnections,
  evaluate(account) {
    if (!account.privateEndpointConnections.ok) {
      return {
        outcome: 'unknown', code: 'private-endpoint-connections-unread',
        message: `Private endpoint connections could not be read: ${account.privateEndpointConnections.reason}`,
      };
    }
    const connections = account.privateEndpointConnections.value;
    const pending = connections.filter((c) => c.status.toLowerCase() === 'pending');
    const evidence = { connections: connections.map((c) => ({ id: c.id, status: c.status })) };
    if (pending.length > 0) {
      return {
        outcome: 'fail', code: 'private-endpoint-connection-pending',
        message: `${pending.length} private endpoint connection(s) waiting for approval: ${pending.map((c) => c.id).join(', ')}.`,
        evidence,
      };
    }
    return {
      outcome: 'pass', code: 'private-endpoint-connections-reviewed',
      message: `${connections.length} private endpoint connection(s), none pending.`,
      evidence,
    };
  },
});
