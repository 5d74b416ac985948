import { defineRule } from '../domain/rule.js';
import { perimeterCapable } from './facts.js';
import { POLICY, REF } from './references.js';

/** ID-01: the account has a system- or user-assigned managed identity (RULES.md). */
export default defineRule({
  id: 'ID-01',
  slug: 'managed-identity-enabled',
  aliases: [],
  title: 'Account has a system- or user-assigned managed identity',
  severity: 'high',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'perimeter-capable kinds (OpenAI, AIServices)',
  rationale:
    'Inside a perimeter the account must use a managed identity to reach its data sources (azure-openai-network-security-perimeter.md, Limitations); without one it falls back to keys and secrets that the perimeter cannot attribute.',
  remediation: {
    description: 'Enable a system-assigned identity (or attach a user-assigned one).',
    az: 'az cognitiveservices account identity assign --subscription <subscription> --resource-group <rg> --name <account>',
    bicep: `// Deploy to resource group '<rg>' of subscription <subscription>.
resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: '<account>'
  location: '<location>'
  kind: '<kind>'
  sku: { name: 'S0' }
  identity: { type: 'SystemAssigned' }
  properties: { customSubDomainName: '<custom-subdomain>' }
}`,
  },
  references: [REF.managedIdentity, REF.openAiPerimeter, REF.docOpenAiPerimeter],
  controls: { mcsb: ['IM-3'], azurePolicy: [POLICY.managedIdentity], cis: [] },
  anchors: { azurePolicy: POLICY.managedIdentity, psrule: '—', azqr: '—' },
  appliesTo: (account, ctx) => perimeterCapable(account, ctx.params),
  evaluate(account) {
    if (!account.identity.ok) {
      return { outcome: 'unknown', code: 'identity-unread', message: `Identity could not be read: ${account.identity.reason}` };
    }
    const id = account.identity.value;
    const evidence = { identityType: id.type, principalIds: id.principalIds };
    if (id.systemAssigned || id.userAssigned) {
      return { outcome: 'pass', code: 'managed-identity-enabled', message: `Managed identity enabled (type ${id.type}).`, evidence };
    }
    return { outcome: 'fail', code: 'no-managed-identity', message: `The account has no managed identity (identity type ${id.type}).`, evidence };
  },
});
