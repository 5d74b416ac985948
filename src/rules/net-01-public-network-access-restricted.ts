import { fact } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { enforced } from './facts.js';
import { POLICY, REF } from './references.js';

/**
 * NET-01: public network access is disabled, restricted to selected networks, or overridden by an
 * enforced perimeter (RULES.md; azure-openai-network-security-perimeter.md: in Enforced mode the
 * publicNetworkAccess setting is overridden by the perimeter's rules).
 */
export default defineRule({
  id: 'NET-01',
  slug: 'public-network-access-restricted',
  aliases: [],
  title: 'Public network access is disabled, restricted to selected networks, or overridden by an enforced perimeter',
  severity: 'high',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'all kinds',
  rationale:
    'An account with public network access Enabled and default action Allow accepts data-plane requests from any address on the internet; a leaked key or token is then usable from anywhere.',
  remediation: {
    description:
      'Disable public network access (use private endpoints), or deny by default and allow selected networks, or enforce a perimeter.',
    az: 'az resource update --ids <account-resource-id> --set properties.publicNetworkAccess=Disabled',
    bicep: `// Deploy to resource group '<rg>' of subscription <subscription>.
resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: '<account>'
  location: '<location>'
  kind: '<kind>'
  sku: { name: 'S0' }
  properties: {
    customSubDomainName: '<custom-subdomain>'
    publicNetworkAccess: 'Disabled'
    networkAcls: { defaultAction: 'Deny' }
  }
}`,
  },
  references: [REF.virtualNetworks, REF.openAiPerimeter, REF.docVirtualNetworks, REF.docOpenAiPerimeter],
  controls: { mcsb: ['NS-2'], azurePolicy: [POLICY.publicNetworkAccess], cis: [] },
  anchors: { azurePolicy: POLICY.publicNetworkAccess, psrule: '—', azqr: '—' },
  appliesTo: () => fact(true, 'applies to all kinds'),
  evaluate(account, ctx) {
    const isEnforced = enforced(account, ctx.params);
    if (isEnforced.ok && isEnforced.value) {
      return {
        outcome: 'pass', code: 'enforced-perimeter-overrides',
        message: `Public access is decided by the access rules of an Enforced perimeter (${isEnforced.why}); publicNetworkAccess is overridden.`,
        evidence: { effectiveMode: 'Enforced' },
      };
    }
    if (!account.network.ok) {
      return { outcome: 'unknown', code: 'network-settings-unread', message: `Network settings could not be read: ${account.network.reason}` };
    }
    const n = account.network.value;
    const evidence = { publicNetworkAccess: n.publicNetworkAccess, defaultAction: n.defaultAction };
    const pna = n.publicNetworkAccess.toLowerCase();
    if (pna === 'disabled') return { outcome: 'pass', code: 'public-network-access-disabled', message: 'Public network access is Disabled.', evidence };
    if (pna === 'securedbyperimeter') {
      return { outcome: 'pass', code: 'secured-by-perimeter', message: 'Public network access is SecuredByPerimeter.', evidence };
    }
    if (n.defaultAction.toLowerCase() === 'deny') {
      return {
        outcome: 'pass', code: 'default-action-deny',
        message: `Public network access is restricted to selected networks (default action Deny, ${n.ipRules.length} IP rule(s), ${n.virtualNetworkRules.length} virtual network rule(s)).`,
        evidence,
      };
    }
    if (!isEnforced.ok) {
      return {
        outcome: 'unknown', code: 'perimeter-enforcement-unread',
        message: `Public network access is ${n.publicNetworkAccess} with default action ${n.defaultAction}, and whether an enforced perimeter overrides it could not be read: ${isEnforced.reason}`,
        evidence,
      };
    }
    return {
      outcome: 'fail', code: 'public-network-access-enabled',
      message: `Public network access is ${n.publicNetworkAccess} with default action ${n.defaultAction}, and no enforced perimeter overrides it: the account accepts requests from any network.`,
      evidence,
    };
  },
});
