import { defineRule } from '../domain/rule.js';
import { associated } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** NSP-05: the account's perimeter configurations are provisioned without issues (deep inspection; RULES.md). */
export default defineRule({
  id: 'NSP-05',
  slug: 'perimeter-configuration-healthy',
  aliases: [],
  title: 'Perimeter configuration is provisioned without issues',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: true,
  appliesToText: 'accounts associated with a perimeter (deep inspection)',
  rationale:
    'A perimeter configuration with provisioning issues, or an association the account does not know about, means the rules the perimeter shows are not the rules the account enforces.',
  remediation: {
    description:
      'Fix the reported issue (often a missing access rule or a permission), then reconcile the configuration.',
    az: 'az rest --method post --url "https://management.azure.com<account-resource-id>/networkSecurityPerimeterConfigurations/<configuration-name>/reconcile?api-version=2024-10-01"',
    bicep: `// Configurations are derived from the association; redeploy the association to resynchronise.
// Deploy to resource group '<perimeter-rg>' of subscription <perimeter-subscription>.
resource perimeter 'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview' existing = {
  name: '<perimeter>'
}

resource association 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations@2023-08-01-preview' = {
  parent: perimeter
  name: '<association>'
  properties: { privateLinkResource: { id: '<account-resource-id>' }, profile: { id: '<profile-resource-id>' }, accessMode: '<access-mode>' }
}`,
  },
  references: [REF.perimeterConfigurationsApi, REF.openAiPerimeter, REF.docOpenAiPerimeter],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) => associated(account, ctx.params),
  evaluate(account) {
    const configs = account.perimeterConfigurations;
    if (configs === undefined) {
      return {
        outcome: 'unknown', code: 'perimeter-configurations-not-inspected',
        message: 'Perimeter configurations were not read (deep inspection did not run for this account).',
      };
    }
    if (!configs.ok) {
      return { outcome: 'unknown', code: 'perimeter-configurations-unread', message: `Perimeter configurations could not be read: ${configs.reason}` };
    }
    const evidence = {
      configurations: configs.value.map((c) => ({
        name: c.name,
        provisioningState: c.provisioningState,
        perimeter: c.perimeterId,
        provisioningIssues: c.provisioningIssues,
      })),
    };
    if (configs.value.length === 0) {
      return {
        outcome: 'fail', code: 'perimeter-configuration-missing',
        message:
          'The account is associated with a perimeter but returns no perimeter configuration (drift between the perimeter and the account).',
        evidence,
      };
    }
    const problems: string[] = [];
    for (const c of configs.value) {
      if (c.provisioningState.toLowerCase() !== 'succeeded') {
        problems.push(`configuration '${c.name}' is in provisioning state ${c.provisioningState}`);
      }
      for (const issue of c.provisioningIssues) {
        problems.push(`configuration '${c.name}' has issue ${issue.issueType}: ${issue.description}`);
      }
    }
    if (problems.length > 0) {
      return { outcome: 'fail', code: 'perimeter-configuration-problems', message: `Perimeter configuration problems: ${problems.join('; ')}.`, evidence };
    }
    return {
      outcome: 'pass', code: 'perimeter-configurations-healthy',
      message: `${configs.value.length} perimeter configuration(s), all Succeeded without provisioning issues.`,
      evidence,
    };
  },
});
