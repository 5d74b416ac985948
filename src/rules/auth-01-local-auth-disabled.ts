import { fact } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { POLICY, REF } from './references.js';

/** AUTH-01: key (local) authentication is disabled (RULES.md). */
export default defineRule({
  id: 'AUTH-01',
  slug: 'local-auth-disabled',
  aliases: [],
  title: 'Key (local) authentication is disabled',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'all kinds',
  rationale:
    'API keys are bearer secrets that bypass the identity-based trust inside a perimeter and need extra access rules (azure-openai-network-security-perimeter.md, note on access rules); a leaked key works until someone rotates it.',
  remediation: {
    description: 'Disable local authentication and use Microsoft Entra ID.',
    az: 'az resource update --ids <account-resource-id> --set properties.disableLocalAuth=true',
    bicep: `// On account '<account>' (resource group '<rg>', subscription <subscription>):
properties: {
  disableLocalAuth: true
}`,
  },
  references: [REF.disableLocalAuth, REF.openAiPerimeter, REF.docOpenAiPerimeter],
  controls: { mcsb: ['IM-1'], azurePolicy: [POLICY.localAuth], cis: [] },
  anchors: { azurePolicy: POLICY.localAuth, psrule: 'Azure.AI.DisableLocalAuth', azqr: 'aif-008' },
  appliesTo: () => fact(true, 'applies to all kinds'),
  evaluate(account) {
    if (!account.disableLocalAuth.ok) {
      return { outcome: 'unknown', code: 'local-auth-setting-unread', message: `disableLocalAuth could not be read: ${account.disableLocalAuth.reason}` };
    }
    const evidence = { disableLocalAuth: account.disableLocalAuth.value };
    return account.disableLocalAuth.value
      ? { outcome: 'pass', code: 'local-auth-disabled', message: 'Local (key) authentication is disabled.', evidence }
      : {
          outcome: 'fail', code: 'local-auth-enabled',
          message: 'Local (key) authentication is enabled: API keys grant data-plane access.',
          evidence,
        };
  },
});
