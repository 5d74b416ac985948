import { defineRule } from '../domain/rule.js';
import { associated, effectiveAssociation } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** NSP-02: the effective access mode of the account's associations is Enforced (RULES.md). */
export default defineRule({
  id: 'NSP-02',
  slug: 'perimeter-enforced',
  aliases: [],
  title: 'Perimeter association is in Enforced access mode',
  severity: 'high',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts associated with a perimeter',
  rationale:
    'In Learning (Transition) or Audit mode a perimeter only logs what it would deny; public network access is still decided by the account\'s own settings, so the perimeter protects nothing.',
  remediation: {
    description: 'After reviewing the perimeter access logs, switch the association to Enforced.',
    az: 'az network perimeter association update --subscription <perimeter-subscription> --resource-group <perimeter-rg> --perimeter-name <perimeter> --association-name <association> --access-mode Enforced',
    bicep: `// Deploy to resource group '<perimeter-rg>' of subscription <perimeter-subscription>.
resource perimeter 'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview' existing = {
  name: '<perimeter>'
}

resource association 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations@2023-08-01-preview' = {
  parent: perimeter
  name: '<association>'
  properties: {
    privateLinkResource: { id: '<account-resource-id>' }
    profile: { id: '<profile-resource-id>' }
    accessMode: 'Enforced'
  }
}`,
  },
  references: [REF.openAiPerimeter, REF.perimeterConcepts, REF.docOpenAiPerimeter, REF.docPerimeterConcepts],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: ['7.16'] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) => associated(account, ctx.params),
  evaluate(account) {
    if (!account.associations.ok) {
      return {
        outcome: 'unknown', code: 'perimeter-associations-unread',
        message: `Perimeter associations could not be read: ${account.associations.reason}`,
      };
    }
    const best = effectiveAssociation(account.associations.value);
    if (best === undefined) {
      return { outcome: 'unknown', code: 'no-succeeded-association', message: 'No Succeeded association was found to decide the access mode.' };
    }
    const evidence = { effectiveMode: best.accessMode, perimeter: best.perimeterId, association: best.id };
    if (best.accessMode.toLowerCase() === 'enforced') {
      return { outcome: 'pass', code: 'perimeter-enforced', message: `Perimeter '${best.perimeterName}' is in Enforced access mode.`, evidence };
    }
    return {
      outcome: 'fail', code: 'perimeter-not-enforced',
      message: `Effective access mode is ${best.accessMode} (perimeter '${best.perimeterName}'); traffic is only logged, not denied.`,
      evidence,
    };
  },
});
