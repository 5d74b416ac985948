import { fact } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { POLICY, REF } from './references.js';

/** NET-07: the account has an approved private endpoint. Off by default (RULES.md; Azure Policy d6759c02). */
export default defineRule({
  id: 'NET-07',
  slug: 'private-endpoint-required',
  aliases: [],
  title: 'Account has an approved private endpoint',
  severity: 'medium',
  enabledByDefault: false,
  deepInspection: false,
  appliesToText: 'all kinds (off by default)',
  rationale:
    'Organisations that require private connectivity for every AI account cannot meet that requirement without an approved private endpoint.',
  remediation: {
    description: 'Create a private endpoint for the account in the consuming virtual network.',
    az: 'az network private-endpoint create --subscription <subscription> --resource-group <rg> --name <account>-pe --vnet-name <vnet> --subnet <subnet> --private-connection-resource-id <account-resource-id> --group-id account --connection-name <account>-pe',
    bicep: `// Deploy to resource group '<rg>' of subscription <subscription>.
resource pe 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: '<account>-pe'
  location: '<location>'
  properties: {
    subnet: { id: '<subnet-resource-id>' }
    privateLinkServiceConnections: [ { name: 'account', properties: { privateLinkServiceId: '<account-resource-id>', groupIds: [ 'account' ] } } ]
  }
}`,
  },
  references: [REF.privateEndpoints, REF.docVirtualNetworks],
  controls: { mcsb: ['NS-2'], azurePolicy: [POLICY.privateLink], cis: [] },
  anchors: { azurePolicy: POLICY.privateLink, psrule: '—', azqr: '—' },
  appliesTo: () => fact(true, 'applies to all kinds'),
  evaluate(account) {
    if (!account.privateEndpointConnections.ok) {
      return {
        outcome: 'unknown', code: 'private-endpoint-connections-unread',
        message: `Private endpoint connections could not be read: ${account.privateEndpointConnections.reason}`,
      };
    }
    const connections = account.privateEndpointConnections.value;
    const approved = connections.filter((c) => c.status.toLowerCase() === 'approved');
    const evidence = { connections: connections.map((c) => ({ id: c.id, status: c.status })) };
    if (approved.length > 0) {
      return { outcome: 'pass', code: 'private-endpoint-approved', message: `${approved.length} approved private endpoint connection(s).`, evidence };
    }
    return {
      outcome: 'fail', code: 'no-approved-private-endpoint',
      message: `No approved private endpoint connection (${connections.length} connection(s) in other states).`,
      evidence,
    };
  },
});
