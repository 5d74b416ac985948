import { isBroadScope } from '../domain/resourceId.js';
import { defineRule } from '../domain/rule.js';
import { hasManagedIdentity, roleIn, roleName } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** ID-03: the account identity holds no privileged role, and no data role at broad scope (RULES.md). */
export default defineRule({
  id: 'ID-03',
  slug: 'identity-least-privilege',
  aliases: [],
  title: 'Account identity holds no privileged role and no data role at broad scope',
  severity: 'high',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts with a managed identity',
  rationale:
    'Whoever can make the account act (a prompt, a tool call, a compromised key) acts with its identity: a privileged role or a data role on a whole subscription turns the account into a path to every resource under that scope, past any perimeter.',
  remediation: {
    description: 'Remove the privileged or broad assignment and grant the data role on the single data source instead.',
    az: 'az role assignment delete --ids <role-assignment-id>',
    bicep: `// Scope data roles to the data source, never to a subscription or resource group:
resource dataRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, account.id, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  properties: {
    principalId: account.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  }
}`,
  },
  references: [REF.rbacBestPractices, REF.managedIdentity, REF.docOpenAiPerimeter],
  controls: { mcsb: ['PA-7'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account) => hasManagedIdentity(account),
  evaluate(account, ctx) {
    if (!account.roleAssignments.ok) {
      return { outcome: 'unknown', code: 'role-assignments-unread', message: `Role assignments could not be read: ${account.roleAssignments.reason}` };
    }
    const offending = account.roleAssignments.value.filter(
      (a) =>
        roleIn(a.roleId, ctx.params.privilegedRoleIds)
        || (roleIn(a.roleId, ctx.params.dataAccessRoleIds) && isBroadScope(a.scope)),
    );
    const evidence = {
      roleAssignments: account.roleAssignments.value.map((a) => ({
        id: a.id,
        principalId: a.principalId,
        role: roleName(a.roleId),
        scope: a.scope,
      })),
    };
    if (offending.length > 0) {
      const list = offending
        .map(
          (a) =>
            `${roleName(a.roleId)} on ${a.scope === '' ? '/' : a.scope}${roleIn(a.roleId, ctx.params.privilegedRoleIds) ? ' (privileged role)' : ' (data role at broad scope)'}`,
        )
        .join('; ');
      return { outcome: 'fail', code: 'excessive-roles', message: `The account identity holds excessive roles: ${list}.`, evidence };
    }
    return {
      outcome: 'pass', code: 'least-privilege-roles',
      message: `${account.roleAssignments.value.length} role assignment(s); none privileged, no data role at broad scope.`,
      evidence,
    };
  },
});
