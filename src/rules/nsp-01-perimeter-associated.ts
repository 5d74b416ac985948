import { defineRule } from '../domain/rule.js';
import { isSucceeded, perimeterCapable } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** NSP-01: the account is associated with a network security perimeter (RULES.md). */
export default defineRule({
  id: 'NSP-01',
  slug: 'perimeter-associated',
  aliases: [],
  title: 'Account is associated with a network security perimeter',
  severity: 'high',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'perimeter-capable kinds (OpenAI, AIServices)',
  rationale:
    'An account outside a network security perimeter relies on its own network settings alone; it cannot share a logged, rule-governed boundary with its data sources, and nothing at the perimeter stops data exfiltration from it.',
  remediation: {
    description:
      'Associate the account with a perimeter profile (start in Learning mode, review the access logs, then enforce).',
    az: 'az network perimeter association create --subscription <perimeter-subscription> --resource-group <perimeter-rg> --perimeter-name <perimeter> --association-name <account>-assoc --private-link-resource "{id:<account-resource-id>}" --profile "{id:<profile-resource-id>}" --access-mode Learning',
    bicep: `// Deploy to resource group '<perimeter-rg>' of subscription <perimeter-subscription>.
resource perimeter 'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview' existing = {
  name: '<perimeter>'
}

resource association 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations@2023-08-01-preview' = {
  parent: perimeter
  name: '<account>-assoc'
  properties: {
    privateLinkResource: { id: '<account-resource-id>' }
    profile: { id: '<profile-resource-id>' }
    accessMode: 'Learning'
  }
}`,
  },
  references: [REF.openAiPerimeter, REF.foundryPerimeter, REF.perimeterConcepts, REF.docOpenAiPerimeter],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: ['7.16'] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) => perimeterCapable(account, ctx.params),
  evaluate(account) {
    if (!account.associations.ok) {
      return {
        outcome: 'unknown', code: 'perimeter-associations-unread',
        message: `Perimeter associations could not be read: ${account.associations.reason}`,
      };
    }
    const all = account.associations.value;
    const ok = all.filter(isSucceeded);
    const evidence = {
      associations: all.map((a) => ({
        id: a.id,
        perimeter: a.perimeterId,
        accessMode: a.accessMode,
        provisioningState: a.provisioningState,
      })),
    };
    if (ok.length > 0) {
      const names = ok.map((a) => `'${a.perimeterName}' (${a.accessMode})`).join(', ');
      return { outcome: 'pass', code: 'perimeter-associated', message: `Associated with network security perimeter ${names}.`, evidence };
    }
    if (all.length > 0) {
      const states = all.map((a) => `'${a.perimeterName}' is in provisioning state ${a.provisioningState}`).join(', ');
      return {
        outcome: 'fail', code: 'association-not-succeeded',
        message: `No Succeeded perimeter association: the association with ${states}.`,
        evidence,
      };
    }
    return { outcome: 'fail', code: 'not-associated', message: 'The account is not associated with any network security perimeter.', evidence };
  },
});
