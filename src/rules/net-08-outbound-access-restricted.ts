import { fact } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { enforced } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** NET-08: outbound access is restricted by an enforced perimeter or the account's outbound allow-list (RULES.md). */
export default defineRule({
  id: 'NET-08',
  slug: 'outbound-access-restricted',
  aliases: [],
  title: 'Outbound access is restricted (enforced perimeter or outbound allow-list)',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'all kinds',
  rationale:
    'An account that may call any destination can be made to send prompts, files or model output to an attacker-controlled endpoint; an enforced perimeter or an outbound allow-list blocks that exfiltration.',
  remediation: {
    description: 'Enforce a perimeter, or restrict outbound network access to an explicit FQDN allow-list.',
    az: 'az resource update --ids <account-resource-id> --set properties.restrictOutboundNetworkAccess=true properties.allowedFqdnList="[\'<exact-fqdn>\']"',
    bicep: `// On account '<account>' (resource group '<rg>', subscription <subscription>):
properties: {
  restrictOutboundNetworkAccess: true
  allowedFqdnList: [ '<exact-fqdn>' ]
}`,
  },
  references: [REF.dataLossPrevention, REF.openAiPerimeter, REF.docOpenAiPerimeter],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: () => fact(true, 'applies to all kinds'),
  evaluate(account, ctx) {
    const isEnforced = enforced(account, ctx.params);
    if (isEnforced.ok && isEnforced.value) {
      return {
        outcome: 'pass', code: 'enforced-perimeter-restricts-outbound',
        message: `Outbound access is restricted by an Enforced perimeter (${isEnforced.why}).`,
        evidence: { effectiveMode: 'Enforced' },
      };
    }
    const restrict = account.restrictOutboundNetworkAccess;
    if (restrict.ok && restrict.value) {
      return {
        outcome: 'pass', code: 'outbound-restricted-by-account',
        message: 'restrictOutboundNetworkAccess is true: outbound calls are limited to the allowed FQDN list.',
        evidence: { restrictOutboundNetworkAccess: true },
      };
    }
    if (!restrict.ok) {
      return { outcome: 'unknown', code: 'outbound-settings-unread', message: `Outbound settings could not be read: ${restrict.reason}` };
    }
    if (!isEnforced.ok) {
      return {
        outcome: 'unknown', code: 'perimeter-enforcement-unread',
        message: `restrictOutboundNetworkAccess is false, and whether an enforced perimeter restricts outbound access could not be read: ${isEnforced.reason}`,
        evidence: { restrictOutboundNetworkAccess: false },
      };
    }
    return {
      outcome: 'fail', code: 'outbound-unrestricted',
      message: 'Outbound access is unrestricted: no enforced perimeter and restrictOutboundNetworkAccess is false.',
      evidence: { restrictOutboundNetworkAccess: false },
    };
  },
});
