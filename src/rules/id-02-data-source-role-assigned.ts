import { allOf } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import { lastSegment } from '../domain/resourceId.js';
import { cosmosAssignmentsOf } from './dataSources.js';
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
      'Grant the identity a data-access role on the data source itself: Storage Blob Data Contributor (batch) on a storage account, Search Index Data Reader on a Search service, or a Cosmos DB data-plane role assignment (`az cosmosdb sql role assignment create`) on a Cosmos DB account.',
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
    const cosmos = cosmosAssignmentsOf(account, ctx);
    const data = account.roleAssignments.ok ? account.roleAssignments.value.filter((a) => roleIn(a.roleId, ctx.params.dataAccessRoleIds)) : [];
    const evidence = {
      dataRoleAssignments: data.map((a) => ({ id: a.id, role: roleName(a.roleId), scope: a.scope })),
      cosmosRoleAssignments: cosmos.assignments.map((a) => ({ id: a.id, account: a.accountId, roleDefinitionId: a.roleDefinitionId, scope: a.scope })),
    };
    if (data.length > 0 || cosmos.assignments.length > 0) {
      const held = [
        ...data.map((a) => `${roleName(a.roleId)} on ${a.scope}`),
        ...cosmos.assignments.map((a) => `Cosmos DB data-plane role ${lastSegment(a.roleDefinitionId)} on ${a.scope}`),
      ];
      return { outcome: 'pass', code: 'data-role-assigned', message: `The identity holds ${held.join('; ')}.`, evidence };
    }
    // None found: unknown while either kind of assignment could not be read (RULES.md, ID-02).
    if (!account.roleAssignments.ok) {
      return { outcome: 'unknown', code: 'role-assignments-unread', message: `Role assignments could not be read: ${account.roleAssignments.reason}` };
    }
    const cosmosUnread = cosmos.notRead ?? cosmos.unreadable[0]?.[1];
    if (cosmosUnread !== undefined) {
      return {
        outcome: 'unknown', code: 'cosmos-role-assignments-unread',
        message: `No data-access role found, and Cosmos DB data-plane role assignments could not all be read: ${cosmosUnread}${cosmos.unreadable.length > 1 ? ` (and ${cosmos.unreadable.length - 1} more Cosmos DB account(s))` : ''}.`,
        evidence: { ...evidence, cosmosAccountsUnread: cosmos.unreadable.map(([id, reason]) => ({ id, reason })) },
      };
    }
    return {
      outcome: 'fail', code: 'no-data-role',
      message: 'The account identity holds no data-access role on any data source (no storage or Search data role, no Cosmos DB data-plane role assignment).',
      evidence,
    };
  },
});
