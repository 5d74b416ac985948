import { allOf, not } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { enforced, ownSettingsRestrict, perimeterCapable } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/**
 * NET-05: a network-restricted (but not Enforced) perimeter-capable account lets trusted Azure
 * services through (bypass = expectedBypass, AzureServices by default; RULES.md).
 */
export default defineRule({
  id: 'NET-05',
  slug: 'trusted-services-bypass',
  aliases: [],
  title: 'Trusted Azure services can reach the network-restricted account (bypass = AzureServices)',
  severity: 'low',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'perimeter-capable kinds that are network-restricted but not Enforced',
  rationale:
    'A restricted account without the trusted-services exception blocks the Azure services that must reach it (for example Azure AI Search or Foundry agents); owners then tend to reopen public access instead. A tenant that forbids the exception sets expectedBypass to None.',
  remediation: {
    description: 'Set networkAcls.bypass to the expected value (AzureServices unless the policy says None).',
    az: 'az resource update --ids <account-resource-id> --set properties.networkAcls.bypass=AzureServices',
    bicep: `// On account '<account>' (resource group '<rg>', subscription <subscription>):
networkAcls: {
  defaultAction: 'Deny'
  bypass: 'AzureServices'
}`,
  },
  references: [REF.virtualNetworks, REF.docVirtualNetworks],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) =>
    allOf(
      () => perimeterCapable(account, ctx.params),
      () => ownSettingsRestrict(account),
      () => not(enforced(account, ctx.params)),
    ),
  evaluate(account, ctx) {
    if (!account.network.ok) {
      return { outcome: 'unknown', code: 'network-settings-unread', message: `Network settings could not be read: ${account.network.reason}` };
    }
    const actual = account.network.value.bypass;
    const expected = ctx.params.expectedBypass;
    const evidence = { bypass: actual, expectedBypass: expected };
    if (actual.toLowerCase() === expected.toLowerCase()) {
      return { outcome: 'pass', code: 'bypass-as-expected', message: `networkAcls.bypass is ${actual}, as expected.`, evidence };
    }
    return { outcome: 'fail', code: 'bypass-unexpected', message: `networkAcls.bypass is ${actual}; expected ${expected}.`, evidence };
  },
});
