import { addressCount } from '../domain/addresses.js';
import { defineRule } from '../domain/rule.js';
import { associated } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** NSP-03: no inbound access rule of the account's profiles admits more than `maxRuleAddresses` addresses (RULES.md). */
export default defineRule({
  id: 'NSP-03',
  slug: 'perimeter-inbound-least-privilege',
  aliases: [],
  title: 'Perimeter inbound rules admit no address range wider than /16',
  severity: 'high',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts associated with a perimeter',
  rationale:
    'An inbound access rule such as 0.0.0.0/0 opens the perimeter to the internet: an enforced perimeter with a wide rule is no boundary at all.',
  remediation: {
    description:
      'Replace wide inbound address prefixes with the exact ranges of the callers, or use subscription-based rules.',
    az: 'az network perimeter profile access-rule update --subscription <perimeter-subscription> --resource-group <perimeter-rg> --perimeter-name <perimeter> --profile-name <profile> --name <rule> --address-prefixes "[\'<caller-range>\']"',
    bicep: `// Deploy to resource group '<perimeter-rg>' of subscription <perimeter-subscription>.
resource perimeter 'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview' existing = {
  name: '<perimeter>'
}

resource profile 'Microsoft.Network/networkSecurityPerimeters/profiles@2023-08-01-preview' existing = {
  parent: perimeter
  name: '<profile>'
}

resource inbound 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2023-08-01-preview' = {
  parent: profile
  name: '<rule>'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [ '<caller-range>' ]
  }
}`,
  },
  references: [REF.openAiPerimeter, REF.perimeterConcepts, REF.docOpenAiPerimeter],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) => associated(account, ctx.params),
  evaluate(account, ctx) {
    if (!account.accessRules.ok) {
      return { outcome: 'unknown', code: 'access-rules-unread', message: `Perimeter access rules could not be read: ${account.accessRules.reason}` };
    }
    const max = BigInt(ctx.params.maxRuleAddresses);
    const inbound = account.accessRules.value.filter((r) => r.direction.toLowerCase() === 'inbound');
    const wide: string[] = [];
    for (const rule of inbound) {
      for (const prefix of rule.addressPrefixes) {
        const count = addressCount(prefix);
        if (count !== undefined && count > max) wide.push(`${prefix} in rule '${rule.name}' (${count} addresses)`);
      }
    }
    const evidence = {
      maxRuleAddresses: ctx.params.maxRuleAddresses,
      inboundRules: inbound.map((r) => ({
        id: r.id,
        addressPrefixes: r.addressPrefixes,
        subscriptions: r.subscriptionIds,
      })),
    };
    if (wide.length > 0) {
      return {
        outcome: 'fail', code: 'inbound-rule-too-wide',
        message: `Inbound access rules admit more than ${ctx.params.maxRuleAddresses} addresses: ${wide.join('; ')}.`,
        evidence,
      };
    }
    return {
      outcome: 'pass', code: 'inbound-rules-narrow',
      message: `${inbound.length} inbound access rule(s); none admits more than ${ctx.params.maxRuleAddresses} addresses.`,
      evidence,
    };
  },
});
