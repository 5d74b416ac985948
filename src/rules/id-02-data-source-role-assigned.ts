import { allOf } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { associated, hasManagedIdentity, roleIn, roleName } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** ID-02: the account's identity holds a data-access role on its data sources (RULES.md). */
export default defineRule({
  id: 'ID-02',
  slug: 'data-source-role-assigned',
  aliases: [],
  title: 'Account identity holds a data-access role on its data sources',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts associated with a perimeter that have a managed identity',
  rationale:
    'Inside a perimeter the account "must … have a role assignment that permits read-access to data sources" (azure-openai-network-security-perimeter.md); without one, features such as batch on Blob Storage fail and owners reach for keys or wider network rules.',
  remediation: {
    description:
      'Grant the identity a data-access role (Storage Blob Data Contributor for batch) on the data source itself.',
    az: 'az role assignment create --assignee-object-id <principal-id> --assignee-principal-type ServicePrincipal --role "Storage Blob Data Contributor" --scope <storage-account-resource-id>',
    bicep: `resource dataRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, account.id, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  properties: {
    principalId: account.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  }
}`,
  },
  references: [REF.openAiPerimeter, REF.batchBlobStorage, REF.docOpenAiPerimeter],
  controls: { mcsb: ['PA-7'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) =>
    allOf(
      () => associated(account, ctx.params),
      () => hasManagedIdentity(account),
    ),
  evaluate(account, ctx) {
    if (!account.roleAssignments.ok) {
      return { outcome: 'unknown', code: 'role-assignments-unread', message: `Role assignments could not be read: ${account.roleAssignments.reason}` };
    }
    const data = account.roleAssignments.value.filter((a) => roleIn(a.roleId, ctx.params.dataAccessRoleIds));
    const evidence = { dataRoleAssignments: data.map((a) => ({ id: a.id, role: roleName(a.roleId), scope: a.scope })) };
    if (data.length > 0) {
      return {
        outcome: 'pass', code: 'data-role-assigned',
        message: `The identity holds ${data.map((a) => `${roleName(a.roleId)} on ${a.scope}`).join('; ')}.`,
        evidence,
      };
    }
    return {
      outcome: 'fail', code: 'no-data-role',
      message: 'The account identity holds no data-access role on any data source.',
      evidence,
    };
  },
});
