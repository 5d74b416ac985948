import { defineRule } from '../domain/rule.js';
import { associated } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** NSP-06: the perimeter's access logs are enabled (deep inspection; RULES.md). */
export default defineRule({
  id: 'NSP-06',
  slug: 'perimeter-access-logging',
  aliases: [],
  title: 'Perimeter access logs are enabled',
  severity: 'low',
  enabledByDefault: true,
  deepInspection: true,
  appliesToText: 'accounts associated with a perimeter (deep inspection)',
  rationale:
    'Without access logs nobody can review what Learning mode would have denied before enforcing, nor investigate what an enforced perimeter let through.',
  remediation: {
    description: 'Enable the allLogs category group in a diagnostic setting on the perimeter.',
    az: 'az monitor diagnostic-settings create --name perimeter-access-logs --resource <perimeter-resource-id> --logs "[{categoryGroup:allLogs,enabled:true}]" --workspace <log-analytics-workspace-id>',
    bicep: `// Deploy to resource group '<perimeter-rg>' of subscription <perimeter-subscription>.
resource perimeter 'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview' existing = {
  name: '<perimeter>'
}

resource logs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: perimeter
  name: 'perimeter-access-logs'
  properties: {
    workspaceId: '<log-analytics-workspace-id>'
    logs: [ { categoryGroup: 'allLogs', enabled: true } ]
  }
}`,
  },
  references: [REF.perimeterLogs, REF.openAiPerimeter, REF.docOpenAiPerimeter],
  controls: { mcsb: ['LT-3'], azurePolicy: [], cis: [] },
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
    if (configs.value.length === 0) {
      return {
        outcome: 'unknown', code: 'perimeter-configuration-missing',
        message:
          'The account returned no perimeter configuration, so its log categories cannot be read (NSP-05 reports the drift).',
      };
    }
    const evidence = {
      configurations: configs.value.map((c) => ({ name: c.name, enabledLogCategories: c.enabledLogCategories })),
    };
    const silent = configs.value.filter((c) => c.enabledLogCategories.length === 0);
    if (silent.length > 0) {
      return {
        outcome: 'fail', code: 'access-logs-disabled',
        message: `No access log category is enabled for configuration ${silent.map((c) => `'${c.name}'`).join(', ')}; enable the allLogs diagnostic setting on the perimeter.`,
        evidence,
      };
    }
    return {
      outcome: 'pass', code: 'access-logs-enabled',
      message: `Access logs enabled: ${[...new Set(configs.value.flatMap((c) => c.enabledLogCategories))].join(', ')}.`,
      evidence,
    };
  },
});
