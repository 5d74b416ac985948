import { allOf, fact, not } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { enforced, hasNetworkRules } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** NET-02: IP and virtual network rules take effect, i.e. the default action is Deny (RULES.md). */
export default defineRule({
  id: 'NET-02',
  slug: 'network-rules-effective',
  aliases: [],
  title: 'IP and virtual network rules take effect (default action Deny)',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts with ≥1 IP or virtual network rule, not Enforced, publicNetworkAccess Enabled',
  rationale:
    'With default action Allow, IP and virtual network rules have no effect: the owner believes the account is restricted while it is open to every network.',
  remediation: {
    description: 'Set the default rule to deny, or network rules have no effect (ai-services-virtual-networks.txt).',
    az: 'az resource update --ids <account-resource-id> --set properties.networkAcls.defaultAction=Deny',
    bicep: `// On account '<account>' (resource group '<rg>', subscription <subscription>):
properties: {
  networkAcls: {
    defaultAction: 'Deny'
    ipRules: [ { value: '<caller-range>' } ]
  }
}`,
  },
  references: [REF.virtualNetworks, REF.docVirtualNetworks],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) =>
    allOf(
      () => hasNetworkRules(account),
      () =>
        account.network.ok
          ? fact(
              account.network.value.publicNetworkAccess.toLowerCase() === 'enabled',
              `publicNetworkAccess is ${account.network.value.publicNetworkAccess}`,
            )
          : account.network,
      () => not(enforced(account, ctx.params)),
    ),
  evaluate(account) {
    if (!account.network.ok) {
      return { outcome: 'unknown', code: 'network-settings-unread', message: `Network settings could not be read: ${account.network.reason}` };
    }
    const n = account.network.value;
    const evidence = { defaultAction: n.defaultAction, ipRules: n.ipRules, virtualNetworkRules: n.virtualNetworkRules };
    if (n.defaultAction.toLowerCase() === 'deny') {
      return {
        outcome: 'pass', code: 'default-action-deny',
        message: 'Default action is Deny, so the IP and virtual network rules take effect.',
        evidence,
      };
    }
    return {
      outcome: 'fail', code: 'network-rules-ineffective',
      message: `Default action is ${n.defaultAction}: the ${n.ipRules.length} IP rule(s) and ${n.virtualNetworkRules.length} virtual network rule(s) have no effect. Set the default rule to deny, or network rules have no effect.`,
      evidence,
    };
  },
});
