import { addressCount } from '../domain/addresses.js';
import { fact } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { NO_ANCHOR, REF } from './references.js';

/** NET-04: no IP rule of the account admits more than `maxRuleAddresses` addresses (RULES.md). */
export default defineRule({
  id: 'NET-04',
  slug: 'ip-rules-least-privilege',
  aliases: [],
  title: 'Account IP rules admit no address range wider than /16',
  severity: 'high',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts with ≥1 IP rule',
  rationale:
    'An IP rule wider than /16 admits tens of thousands of addresses, usually far more than the callers it was written for; 0.0.0.0/0 is public access under another name.',
  remediation: {
    description: 'Replace the wide range with the exact addresses or ranges of the callers.',
    az: 'az cognitiveservices account network-rule add --subscription <subscription> --resource-group <rg> --name <account> --ip-address <caller-range> && az cognitiveservices account network-rule remove --subscription <subscription> --resource-group <rg> --name <account> --ip-address <wide-range>',
    bicep: `// On account '<account>' (resource group '<rg>', subscription <subscription>):
networkAcls: {
  defaultAction: 'Deny'
  ipRules: [ { value: '<caller-range>' } ]
}`,
  },
  references: [REF.virtualNetworks, REF.docVirtualNetworks],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account) =>
    account.network.ok
      ? account.network.value.ipRules.length > 0
        ? fact(true, `${account.network.value.ipRules.length} IP rule(s)`)
        : fact(false, 'the account has no IP rules')
      : account.network,
  evaluate(account, ctx) {
    if (!account.network.ok) {
      return { outcome: 'unknown', code: 'network-settings-unread', message: `Network settings could not be read: ${account.network.reason}` };
    }
    const max = BigInt(ctx.params.maxRuleAddresses);
    const wide: string[] = [];
    for (const value of account.network.value.ipRules) {
      const count = addressCount(value);
      if (count !== undefined && count > max) wide.push(`${value} (${count} addresses)`);
    }
    const evidence = { ipRules: account.network.value.ipRules, maxRuleAddresses: ctx.params.maxRuleAddresses };
    if (wide.length > 0) {
      return {
        outcome: 'fail', code: 'ip-rule-too-wide',
        message: `IP rules admit more than ${ctx.params.maxRuleAddresses} addresses: ${wide.join(', ')}.`,
        evidence,
      };
    }
    return {
      outcome: 'pass', code: 'ip-rules-narrow',
      message: `No IP rule admits more than ${ctx.params.maxRuleAddresses} addresses.`,
      evidence,
    };
  },
});
