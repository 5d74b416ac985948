import { defineRule } from '../domain/rule.js';
import { associated } from './facts.js';
import { POLICY, REF } from './references.js';

/** ENC-01: customer-managed keys are not combined with a perimeter in preview (RULES.md). */
export default defineRule({
  id: 'ENC-01',
  slug: 'cmk-perimeter-compatibility',
  aliases: [],
  title: 'Customer-managed keys are not combined with a perimeter in preview',
  severity: 'low',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts associated with a perimeter',
  rationale:
    'With a perimeter, Azure OpenAI "customer-managed keys might not behave as expected" (azure-openai-network-security-perimeter.md, Limitations): the account may lose access to its own key and with it its data.',
  remediation: {
    description:
      'Until the limitation is lifted, use Microsoft-managed keys on perimeter-associated accounts, or keep the account out of the perimeter.',
    az: 'az cognitiveservices account update --subscription <subscription> --resource-group <rg> --name <account> --encryption "{keySource:Microsoft.CognitiveServices}"',
    bicep: `// On account '<account>' (resource group '<rg>', subscription <subscription>):
properties: {
  encryption: { keySource: 'Microsoft.CognitiveServices' }
}`,
  },
  references: [REF.openAiPerimeter, REF.customerManagedKeys, REF.docOpenAiPerimeter],
  controls: { mcsb: ['DP-5'], azurePolicy: [POLICY.customerManagedKeys], cis: [] },
  anchors: { azurePolicy: `${POLICY.customerManagedKeys} (related)`, psrule: '—', azqr: '—' },
  appliesTo: (account, ctx) => associated(account, ctx.params),
  evaluate(account) {
    if (!account.encryptionKeySource.ok) {
      return {
        outcome: 'unknown', code: 'encryption-settings-unread',
        message: `Encryption settings could not be read: ${account.encryptionKeySource.reason}`,
      };
    }
    const keySource = account.encryptionKeySource.value;
    const evidence = { keySource };
    if (keySource.toLowerCase() === 'microsoft.keyvault') {
      return {
        outcome: 'fail', code: 'customer-managed-key-with-perimeter',
        message:
          'Customer-managed keys (Microsoft.KeyVault) on a perimeter-associated account: customer-managed keys might not behave as expected.',
        evidence,
      };
    }
    return { outcome: 'pass', code: 'key-source-compatible', message: `Key source is ${keySource}.`, evidence };
  },
});
