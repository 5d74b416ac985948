import { defineRule } from '../domain/rule.js';
import { associated } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** NSP-04: outbound access rules of the account's profiles name exact FQDNs, no wildcards (RULES.md). */
export default defineRule({
  id: 'NSP-04',
  slug: 'perimeter-outbound-least-privilege',
  aliases: [],
  title: 'Perimeter outbound rules name exact FQDNs',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts associated with a perimeter',
  rationale:
    'A wildcard outbound rule such as *.blob.core.windows.net lets the account send data to any storage account in Azure, including an attacker\'s: the exfiltration path the perimeter exists to close.',
  remediation: {
    description: 'List the exact FQDNs of the data sources the account must reach.',
    az: 'az network perimeter profile access-rule update --subscription <perimeter-subscription> --resource-group <perimeter-rg> --perimeter-name <perimeter> --profile-name <profile> --name <rule> --fqdn "[\'<exact-fqdn>\']"',
    bicep: `// Deploy to resource group '<perimeter-rg>' of subscription <perimeter-subscription>.
resource perimeter 'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview' existing = {
  name: '<perimeter>'
}

resource profile 'Microsoft.Network/networkSecurityPerimeters/profiles@2023-08-01-preview' existing = {
  parent: perimeter
  name: '<profile>'
}

resource outbound 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2023-08-01-preview' = {
  parent: profile
  name: '<rule>'
  properties: {
    direction: 'Outbound'
    fullyQualifiedDomainNames: [ '<exact-fqdn>' ]
  }
}`,
  },
  references: [REF.openAiPerimeter, REF.perimeterConcepts, REF.docOpenAiPerimeter],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) => associated(account, ctx.params),
  evaluate(account) {
    if (!account.accessRules.ok) {
      return { outcome: 'unknown', code: 'access-rules-unread', message: `Perimeter access rules could not be read: ${account.accessRules.reason}` };
    }
    const outbound = account.accessRules.value.filter((r) => r.direction.toLowerCase() === 'outbound');
    const wildcards = outbound.flatMap((r) =>
      r.fullyQualifiedDomainNames.filter((f) => f.includes('*')).map((f) => `${f} in rule '${r.name}'`),
    );
    const evidence = {
      outboundRules: outbound.map((r) => ({ id: r.id, fullyQualifiedDomainNames: r.fullyQualifiedDomainNames })),
    };
    if (wildcards.length > 0) {
      return {
        outcome: 'fail', code: 'outbound-wildcard-fqdn',
        message: `Outbound access rules use wildcard FQDNs: ${wildcards.join('; ')}.`,
        evidence,
      };
    }
    return { outcome: 'pass', code: 'outbound-fqdns-exact', message: `${outbound.length} outbound access rule(s); every FQDN is exact.`, evidence };
  },
});
