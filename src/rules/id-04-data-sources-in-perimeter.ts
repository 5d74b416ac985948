import { allOf } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { DATA_SOURCE_KIND_NAMES, dataSourcesOf, describeDataSource } from './dataSources.js';
import { associated, hasManagedIdentity } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/**
 * ID-04: every data source the identity can reach (storage, Cosmos DB, Azure AI Search) shares the
 * account's perimeter (storage, Cosmos DB) or is allowed by an outbound rule of its profile (RULES.md;
 * azure-openai-network-security-perimeter.md: the account reaches Storage and Cosmos DB inside the
 * perimeter, other data sources through an outbound access rule). The data sources and their verdicts
 * are rules/dataSources.ts `dataSourcesOf`, which NSP-07's readiness plan uses too.
 */
export default defineRule({
  id: 'ID-04',
  slug: 'data-sources-in-perimeter',
  aliases: [],
  title: 'Data sources the identity can reach share the account\'s perimeter or are allowed by an outbound rule',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText:
    'associated accounts with a managed identity whose principals can reach a data source: a storage data role scoped to a storage account, a Search data role scoped to a Search service (or below either), or a Cosmos DB data-plane role assignment',
  rationale:
    'A data source outside the perimeter and not named by an outbound rule is either unreachable once the perimeter is enforced, or reached by a path the perimeter does not govern.',
  remediation: {
    description:
      'Associate the storage or Cosmos DB account with the account\'s perimeter, or add an outbound rule for its endpoint (`{name}.blob.core.windows.net`, `{name}.documents.azure.com`); an Azure AI Search service needs an outbound rule for `{name}.search.windows.net` (suffixes per cloud).',
    az: 'az network perimeter association create --subscription <perimeter-subscription> --resource-group <perimeter-rg> --perimeter-name <perimeter> --association-name <storage>-assoc --private-link-resource "{id:<storage-account-resource-id>}" --profile "{id:<profile-resource-id>}" --access-mode Learning',
    bicep: `// Deploy to resource group '<perimeter-rg>' of subscription <perimeter-subscription>.
resource perimeter 'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview' existing = {
  name: '<perimeter>'
}

resource storageAssociation 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations@2023-08-01-preview' = {
  parent: perimeter
  name: '<storage>-assoc'
  properties: {
    privateLinkResource: { id: '<storage-account-resource-id>' }
    profile: { id: '<profile-resource-id>' }
    accessMode: 'Enforced'
  }
}`,
  },
  references: [REF.openAiPerimeter, REF.batchBlobStorage, REF.docOpenAiPerimeter, REF.docFoundryPerimeter],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) =>
    allOf(
      () => associated(account, ctx.params),
      () => hasManagedIdentity(account),
      () => dataSourcesOf(account, ctx).reachable,
    ),
  evaluate(account, ctx) {
    if (!account.associations.ok) {
      return {
        outcome: 'unknown', code: 'perimeter-associations-unread',
        message: `Perimeter associations could not be read: ${account.associations.reason}`,
      };
    }
    const { verdicts } = dataSourcesOf(account, ctx);
    const evidence = {
      cloud: ctx.tenant.cloud ?? 'AzureCloud',
      dataSources: verdicts.map((v) => ({ kind: v.kind, id: v.id, ...(v.fqdn ? { fqdn: v.fqdn } : {}), status: v.status, why: v.why })),
      // The storage subset under its former name (the CSV remediation's placeholders read it).
      storageAccounts: verdicts.filter((v) => v.kind === 'storage').map((v) => ({ storageId: v.id, status: v.status, why: v.why })),
    };
    const notOk = verdicts.filter((v) => v.status === 'not_ok');
    if (notOk.length > 0) {
      return {
        outcome: 'fail', code: 'data-source-outside-perimeter',
        message: `Data sources unreachable once the perimeter is enforced: ${notOk.map((v) => v.why).join('; ')}.`,
        evidence,
      };
    }
    const unknown = verdicts.filter((v) => v.status === 'unknown');
    if (unknown.length > 0) {
      return {
        outcome: 'unknown', code: 'data-source-unchecked',
        message: `Data sources the identity can reach could not be checked: ${unknown.map(describeDataSource).join('; ')}.`,
        evidence,
      };
    }
    const counts = (['storage', 'cosmosdb', 'search'] as const)
      .map((k) => [k, verdicts.filter((v) => v.kind === k).length] as const)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${DATA_SOURCE_KIND_NAMES[k]}(s)`);
    return {
      outcome: 'pass', code: 'data-sources-in-perimeter',
      message: `Every data source the identity can reach (${counts.join(', ')}) shares the perimeter or is allowed by an outbound rule.`,
      evidence,
    };
  },
});
