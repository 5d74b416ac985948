import auth01 from '../../../src/rules/auth-01-local-auth-disabled.js';
import enc01 from '../../../src/rules/enc-01-cmk-perimeter-compatibility.js';
import id01 from '../../../src/rules/id-01-managed-identity-enabled.js';
import id02 from '../../../src/rules/id-02-data-source-role-assigned.js';
import id03 from '../../../src/rules/id-03-identity-least-privilege.js';
import id04 from '../../../src/rules/id-04-data-sources-in-perimeter.js';
import {
  aContext,
  accessRule,
  anAccount,
  aCosmosAccount,
  aSearchService,
  aStorageAccount,
  association,
  cosmosAssignment,
  cosmosId,
  searchId,
  OTHER_PERIMETER,
  PERIMETER,
  ROLES,
  roleAssignment,
  SUB,
  storageId,
  unreadable,
} from '../../helpers/builders.js';
import { ruleTable } from '../../helpers/ruleTable.js';

const enforced = [association({ accessMode: 'Enforced' })];

ruleTable(id01, [
  {
    name: 'system-assigned',
    account: anAccount({ identity: 'SystemAssigned' }),
    outcome: 'pass',
    code: 'managed-identity-enabled',
    message: /type SystemAssigned/,
  },
  { name: 'user-assigned', account: anAccount({ identity: 'UserAssigned' }), outcome: 'pass', code: 'managed-identity-enabled', message: /UserAssigned/ },
  {
    name: 'both',
    account: anAccount({ identity: 'SystemAssigned, UserAssigned' }),
    outcome: 'pass',
    code: 'managed-identity-enabled',
    message: /SystemAssigned, UserAssigned/,
  },
  {
    name: 'none',
    account: anAccount({ identity: 'None' }),
    outcome: 'fail',
    code: 'no-managed-identity',
    message: /no managed identity \(identity type None\)/,
  },
  {
    name: 'not perimeter-capable',
    account: anAccount({ kind: 'Face', identity: 'None' }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /Face/,
  },
  {
    name: 'identity malformed',
    account: anAccount({ identity: unreadable('malformed identity') }),
    outcome: 'unknown',
    code: 'identity-unread',
    message: /malformed identity/,
  },
]);

ruleTable(id02, [
  {
    name: 'data role on storage',
    account: anAccount({
      associations: enforced,
      roleAssignments: [roleAssignment(ROLES.blobContributor, storageId('st1'))],
    }),
    outcome: 'pass',
    code: 'data-role-assigned',
    message: /Storage Blob Data Contributor on .*st1/,
  },
  {
    name: 'Search Index Data Reader counts',
    account: anAccount({
      associations: enforced,
      roleAssignments: [
        roleAssignment(
          ROLES.searchReader,
          `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Search/searchServices/s1`,
        ),
      ],
    }),
    outcome: 'pass',
    code: 'data-role-assigned',
    message: /Search Index Data Reader/,
  },
  {
    name: 'only non-data roles',
    account: anAccount({
      associations: enforced,
      roleAssignments: [roleAssignment(ROLES.reader, `/subscriptions/${SUB}`)],
    }),
    outcome: 'fail',
    code: 'no-data-role',
    message: /holds no data-access role/,
  },
  {
    name: 'no assignments',
    account: anAccount({ associations: enforced }),
    outcome: 'fail',
    code: 'no-data-role',
    message: /no data-access role/,
  },
  { name: 'not associated', account: anAccount(), outcome: 'not_applicable', code: 'not-applicable', message: /no Succeeded/ },
  {
    name: 'no managed identity',
    account: anAccount({ associations: enforced, identity: 'None' }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no managed identity/,
  },
  {
    name: 'role assignments unread',
    account: anAccount({ associations: enforced, roleAssignments: unreadable('authorizationresources: HTTP 429') }),
    outcome: 'unknown',
    code: 'role-assignments-unread',
    message: /HTTP 429/,
  },
  {
    name: 'a Cosmos DB data-plane role assignment counts',
    account: anAccount({ associations: enforced }),
    ctx: aContext({ cosmos: [aCosmosAccount('cdb1')], cosmosAssignments: { assignments: [cosmosAssignment('cdb1')], unreadable: {} } }),
    outcome: 'pass',
    code: 'data-role-assigned',
    message: /Cosmos DB data-plane role 00000000-0000-0000-0000-000000000002 on .*databaseAccounts\/cdb1/,
  },
  {
    name: 'a Cosmos DB assignment to another principal does not count',
    account: anAccount({ associations: enforced }),
    ctx: aContext({ cosmosAssignments: { assignments: [cosmosAssignment('cdb1', '99999999-0000-4000-8000-000000000000')], unreadable: {} } }),
    outcome: 'fail',
    code: 'no-data-role',
    message: /no Cosmos DB data-plane role assignment/,
  },
  {
    name: 'none found while a Cosmos DB account\'s assignments are unreadable',
    account: anAccount({ associations: enforced }),
    ctx: aContext({ cosmosAssignments: { assignments: [], unreadable: { [cosmosId('cdb2').toLowerCase()]: 'HTTP 403 AuthorizationFailed' } } }),
    outcome: 'unknown',
    code: 'cosmos-role-assignments-unread',
    message: /HTTP 403 AuthorizationFailed/,
  },
  {
    name: 'an ARM data role found while Cosmos DB assignments are unreadable',
    account: anAccount({ associations: enforced, roleAssignments: [roleAssignment(ROLES.blobReader, storageId('st1'))] }),
    ctx: aContext({ cosmosAssignments: { assignments: [], unreadable: { [cosmosId('cdb2').toLowerCase()]: 'HTTP 403' } } }),
    outcome: 'pass',
    code: 'data-role-assigned',
    message: /Storage Blob Data Reader/,
  },
  {
    name: 'a Cosmos DB assignment found while ARM role assignments are unread',
    account: anAccount({ associations: enforced, roleAssignments: unreadable('authorizationresources: HTTP 429') }),
    ctx: aContext({ cosmosAssignments: { assignments: [cosmosAssignment('cdb1')], unreadable: {} } }),
    outcome: 'pass',
    code: 'data-role-assigned',
    message: /Cosmos DB data-plane role/,
  },
  {
    name: 'Cosmos DB assignments not read by the evaluation',
    account: anAccount({ associations: enforced }),
    ctx: aContext({ cosmosAssignments: { assignments: [], unreadable: {}, notRead: 'the Cosmos DB accounts could not be read (HTTP 500)' } }),
    outcome: 'unknown',
    code: 'cosmos-role-assignments-unread',
    message: /HTTP 500/,
  },
  {
    name: 'association unread',
    account: anAccount({ associations: unreadable() }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /could not be decided/,
  },
]);

ruleTable(id03, [
  {
    name: 'data role on one storage account',
    account: anAccount({ roleAssignments: [roleAssignment(ROLES.blobReader, storageId('st1'))] }),
    outcome: 'pass',
    code: 'least-privilege-roles',
    message: /1 role assignment\(s\); none privileged/,
  },
  {
    name: 'Owner on the account itself (privileged at any scope)',
    account: anAccount({
      roleAssignments: [
        roleAssignment(
          ROLES.owner,
          `/subscriptions/${SUB}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-test`,
        ),
      ],
    }),
    outcome: 'fail',
    code: 'excessive-roles',
    message: /Owner on .*accounts\/oai-test \(privileged role\)/,
  },
  {
    name: 'data role on a subscription',
    account: anAccount({ roleAssignments: [roleAssignment(ROLES.blobContributor, `/subscriptions/${SUB}`)] }),
    outcome: 'fail',
    code: 'excessive-roles',
    message: /Storage Blob Data Contributor on \/subscriptions\/[^ ]+ \(data role at broad scope\)/,
  },
  {
    name: 'data role on a resource group',
    account: anAccount({
      roleAssignments: [roleAssignment(ROLES.blobReader, `/subscriptions/${SUB}/resourceGroups/rg-data`)],
    }),
    outcome: 'fail',
    code: 'excessive-roles',
    message: /broad scope/,
  },
  {
    name: 'data role on a management group',
    account: anAccount({
      roleAssignments: [roleAssignment(ROLES.searchReader, '/providers/Microsoft.Management/managementGroups/root')],
    }),
    outcome: 'fail',
    code: 'excessive-roles',
    message: /managementGroups\/root \(data role at broad scope\)/,
  },
  {
    name: 'privilegedRoleIds parameter',
    account: anAccount({ roleAssignments: [roleAssignment(ROLES.reader, `/subscriptions/${SUB}`)] }),
    ctx: aContext({ params: { privilegedRoleIds: [ROLES.reader] } }),
    outcome: 'fail',
    code: 'excessive-roles',
    message: /privileged role/,
  },
  {
    name: 'no managed identity',
    account: anAccount({ identity: 'None', kind: 'Face' }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no managed identity/,
  },
  {
    name: 'role assignments unread',
    account: anAccount({ roleAssignments: unreadable() }),
    outcome: 'unknown',
    code: 'role-assignments-unread',
    message: /simulated/,
  },
]);

const blobRole = (name: string, suffix = '') => roleAssignment(ROLES.blobContributor, `${storageId(name)}${suffix}`);
const outbound = (fqdn: string) => accessRule({ direction: 'Outbound', fullyQualifiedDomainNames: [fqdn] });

ruleTable(id04, [
  {
    name: 'storage associated with the same perimeter',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('st1')] }),
    ctx: aContext({ storage: [aStorageAccount('st1', [PERIMETER])] }),
    outcome: 'pass',
    code: 'data-sources-in-perimeter',
    message: /Every data source the identity can reach \(1 Storage account\(s\)\)/,
  },
  {
    name: 'storage allowed by an outbound rule (role on a container)',
    account: anAccount({
      associations: enforced,
      roleAssignments: [blobRole('st2', '/blobServices/default/containers/batch')],
      accessRules: [outbound('ST2.blob.core.windows.net')],
    }),
    ctx: aContext({ storage: [aStorageAccount('st2')] }),
    outcome: 'pass',
    code: 'data-sources-in-perimeter',
    message: /Every data source the identity can reach \(1 Storage account/,
  },
  {
    name: 'storage in another perimeter, no outbound rule',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('st3')] }),
    ctx: aContext({ storage: [aStorageAccount('st3', [OTHER_PERIMETER])] }),
    outcome: 'fail',
    code: 'data-source-outside-perimeter',
    message: /'st3' is outside the account's perimeter and no outbound rule allows st3\.blob\.core\.windows\.net/,
  },
  {
    name: 'a fail outweighs an unknown',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('st3'), blobRole('ghost')] }),
    ctx: aContext({ storage: [aStorageAccount('st3')] }),
    outcome: 'fail',
    code: 'data-source-outside-perimeter',
    message: /st3/,
  },
  {
    name: 'storage not in the inventory',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('ghost')] }),
    outcome: 'unknown',
    code: 'data-source-unchecked',
    message: /storageAccounts\/ghost: not in the storage inventory/,
  },
  {
    name: 'storage\'s associations unread',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('st4')] }),
    ctx: aContext({ storage: [aStorageAccount('st4', unreadable('storage associations unread'))] }),
    outcome: 'unknown',
    code: 'data-source-unchecked',
    message: /storage associations unread/,
  },
  {
    name: 'storage role only at subscription scope',
    account: anAccount({
      associations: enforced,
      roleAssignments: [roleAssignment(ROLES.blobContributor, `/subscriptions/${SUB}`)],
    }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no storage or Search data role scoped to a storage account or Search service, and no Cosmos DB/,
  },
  {
    name: 'a non-storage data role on a storage account',
    account: anAccount({
      associations: enforced,
      roleAssignments: [roleAssignment(ROLES.searchReader, storageId('st1'))],
    }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no storage or Search data role/,
  },
  {
    name: 'not associated',
    account: anAccount({ roleAssignments: [blobRole('st1')] }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no Succeeded/,
  },
  {
    name: 'role assignments unread',
    account: anAccount({ associations: enforced, roleAssignments: unreadable('ra unread') }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /ra unread/,
  }, // Cosmos DB: kind × (same perimeter, outbound rule, neither, not in inventory, assignments unreadable).
  {
    name: 'Cosmos DB associated with the same perimeter',
    account: anAccount({ associations: enforced }),
    ctx: aContext({ cosmos: [aCosmosAccount('cdb1', [PERIMETER])], cosmosAssignments: { assignments: [cosmosAssignment('cdb1')], unreadable: {} } }),
    outcome: 'pass',
    code: 'data-sources-in-perimeter',
    message: /\(1 Cosmos DB account\(s\)\)/,
  },
  {
    name: 'Cosmos DB allowed by an outbound rule',
    account: anAccount({ associations: enforced, accessRules: [outbound('cdb1.documents.azure.com')] }),
    ctx: aContext({ cosmos: [aCosmosAccount('cdb1', [OTHER_PERIMETER])], cosmosAssignments: { assignments: [cosmosAssignment('cdb1')], unreadable: {} } }),
    outcome: 'pass',
    code: 'data-sources-in-perimeter',
    message: /Cosmos DB account/,
  },
  {
    name: 'Cosmos DB neither in the perimeter nor allowed outbound',
    account: anAccount({ associations: enforced }),
    ctx: aContext({ cosmos: [aCosmosAccount('cdb1')], cosmosAssignments: { assignments: [cosmosAssignment('cdb1')], unreadable: {} } }),
    outcome: 'fail',
    code: 'data-source-outside-perimeter',
    message: /Cosmos DB account 'cdb1' is outside the account's perimeter and no outbound rule allows cdb1\.documents\.azure\.com/,
  },
  {
    name: 'Cosmos DB not in the inventory',
    account: anAccount({ associations: enforced }),
    ctx: aContext({ cosmosAssignments: { assignments: [cosmosAssignment('ghost')], unreadable: {} } }),
    outcome: 'unknown',
    code: 'data-source-unchecked',
    message: /databaseAccounts\/ghost: not in the Cosmos DB account inventory/,
  },
  {
    name: 'a Cosmos DB account outside the perimeter whose assignments are unreadable (the account has storage in its perimeter)',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('st1')] }),
    ctx: aContext({
      storage: [aStorageAccount('st1', [PERIMETER])],
      cosmos: [aCosmosAccount('cdb9')],
      cosmosAssignments: { assignments: [], unreadable: { [cosmosId('cdb9').toLowerCase()]: 'the sqlRoleAssignments of cdb9 could not be read: HTTP 403' } },
    }),
    outcome: 'unknown',
    code: 'data-source-unchecked',
    message: /cdb9 could not be read: HTTP 403 \(it may be a data source of this account, outside its perimeter\)/,
  },
  {
    name: 'an unreadable Cosmos DB account inside the perimeter cannot change a pass',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('st1')] }),
    ctx: aContext({
      storage: [aStorageAccount('st1', [PERIMETER])],
      cosmos: [aCosmosAccount('cdb9', [PERIMETER])],
      cosmosAssignments: { assignments: [], unreadable: { [cosmosId('cdb9').toLowerCase()]: 'HTTP 403' } },
    }),
    outcome: 'pass',
    code: 'data-sources-in-perimeter',
    message: /1 Storage account/,
  },
  {
    name: 'no other data source and a Cosmos DB account\'s assignments unreadable',
    account: anAccount({ associations: enforced }),
    ctx: aContext({ cosmos: [aCosmosAccount('cdb9', [PERIMETER])], cosmosAssignments: { assignments: [], unreadable: { [cosmosId('cdb9').toLowerCase()]: 'HTTP 403 on cdb9' } } }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /HTTP 403 on cdb9/,
  },
  {
    name: 'a fail is not hidden by an unreadable Cosmos DB account',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('st3')] }),
    ctx: aContext({ storage: [aStorageAccount('st3')], cosmos: [aCosmosAccount('cdb9')], cosmosAssignments: { assignments: [], unreadable: { [cosmosId('cdb9').toLowerCase()]: 'HTTP 403' } } }),
    outcome: 'fail',
    code: 'data-source-outside-perimeter',
    message: /st3/,
  },
  {
    name: 'Cosmos DB assignments not read by the evaluation (a change event)',
    account: anAccount({ associations: enforced, roleAssignments: [blobRole('st1')] }),
    ctx: { ...aContext({ storage: [aStorageAccount('st1', [PERIMETER])] }), tenant: { storageAccounts: new Map([[storageId('st1').toLowerCase(), aStorageAccount('st1', [PERIMETER])]]) } },
    outcome: 'unknown',
    code: 'data-source-unchecked',
    message: /not read by this evaluation/,
  },
  // AI Search: only an outbound rule makes it ok.
  {
    name: 'Search service in the same perimeter is still not ok without an outbound rule',
    account: anAccount({ associations: enforced, roleAssignments: [roleAssignment(ROLES.searchReader, searchId('srch1'))] }),
    ctx: aContext({ search: [aSearchService('srch1')] }),
    outcome: 'fail',
    code: 'data-source-outside-perimeter',
    message: /Azure AI Search service 'srch1' is reached only through an outbound rule, and none allows srch1\.search\.windows\.net: add srch1\.search\.windows\.net to an outbound rule/,
  },
  {
    name: 'Search service allowed by an outbound rule (role on an index)',
    account: anAccount({
      associations: enforced,
      roleAssignments: [roleAssignment(ROLES.searchReader, `${searchId('srch1')}/indexes/docs`)],
      accessRules: [outbound('srch1.search.windows.net')],
    }),
    ctx: aContext({ search: [aSearchService('srch1')] }),
    outcome: 'pass',
    code: 'data-sources-in-perimeter',
    message: /1 Azure AI Search service\(s\)/,
  },
  {
    name: 'Search service not in the inventory',
    account: anAccount({ associations: enforced, roleAssignments: [roleAssignment(ROLES.searchReader, searchId('ghost'))] }),
    outcome: 'unknown',
    code: 'data-source-unchecked',
    message: /searchServices\/ghost: not in the Azure AI Search service inventory/,
  },
  {
    name: 'Search service\'s role assignments unread',
    account: anAccount({ associations: enforced, roleAssignments: unreadable('authorizationresources unread') }),
    ctx: aContext({ search: [aSearchService('srch1')] }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /authorizationresources unread/,
  },
  {
    name: 'ARM role assignments unread while a Cosmos DB source is known',
    account: anAccount({ associations: enforced, roleAssignments: unreadable('authorizationresources unread') }),
    ctx: aContext({ cosmos: [aCosmosAccount('cdb1', [PERIMETER])], cosmosAssignments: { assignments: [cosmosAssignment('cdb1')], unreadable: {} } }),
    outcome: 'unknown',
    code: 'data-source-unchecked',
    message: /role assignments could not be read: authorizationresources unread/,
  },
  {
    name: 'Search data role at subscription scope names no service',
    account: anAccount({ associations: enforced, roleAssignments: [roleAssignment(ROLES.searchReader, `/subscriptions/${SUB}`)] }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no storage or Search data role/,
  },
  // The FQDN suffixes of each cloud.
  ...(['AzureUSGovernment', 'AzureChinaCloud'] as const).flatMap((cloud) => {
    const suffix = cloud === 'AzureUSGovernment'
      ? { storage: 'blob.core.usgovcloudapi.net', cosmos: 'documents.azure.us', search: 'search.azure.us' }
      : { storage: 'blob.core.chinacloudapi.cn', cosmos: 'documents.azure.cn', search: 'search.azure.cn' };
    const roles = [blobRole('st1'), roleAssignment(ROLES.searchReader, searchId('srch1'))];
    const inventory = { storage: [aStorageAccount('st1')], cosmos: [aCosmosAccount('cdb1')], search: [aSearchService('srch1')], cosmosAssignments: { assignments: [cosmosAssignment('cdb1')], unreadable: {} }, cloud };
    return [
      {
        name: `${cloud}: every kind allowed by its cloud's endpoint`,
        account: anAccount({
          associations: enforced,
          roleAssignments: roles,
          accessRules: [outbound(`st1.${suffix.storage}`), outbound(`cdb1.${suffix.cosmos}`), outbound(`srch1.${suffix.search}`)],
        }),
        ctx: aContext(inventory),
        outcome: 'pass' as const,
        code: 'data-sources-in-perimeter',
        message: /1 Storage account\(s\), 1 Cosmos DB account\(s\), 1 Azure AI Search service\(s\)/,
      },
      {
        name: `${cloud}: the public cloud's endpoints do not count`,
        account: anAccount({
          associations: enforced,
          roleAssignments: roles,
          accessRules: [outbound('st1.blob.core.windows.net'), outbound('cdb1.documents.azure.com'), outbound('srch1.search.windows.net')],
        }),
        ctx: aContext(inventory),
        outcome: 'fail' as const,
        code: 'data-source-outside-perimeter',
        message: new RegExp(`st1\\.${suffix.storage.replace(/\./g, '\\.')}.*srch1\\.${suffix.search.replace(/\./g, '\\.')}.*cdb1\\.${suffix.cosmos.replace(/\./g, '\\.')}`),
      },
    ];
  }),
]);

ruleTable(
  auth01,
  [
    {
      name: 'disabled',
      account: anAccount({ disableLocalAuth: true }),
      outcome: 'pass',
      code: 'local-auth-disabled',
      message: /Local \(key\) authentication is disabled/,
    },
    {
      name: 'enabled (default)',
      account: anAccount(),
      outcome: 'fail',
      code: 'local-auth-enabled',
      message: /Local \(key\) authentication is enabled/,
    },
    { name: 'non-capable kinds too', account: anAccount({ kind: 'Face' }), outcome: 'fail', code: 'local-auth-enabled', message: /enabled/ },
    {
      name: 'unreadable',
      account: anAccount({ disableLocalAuth: unreadable('malformed disableLocalAuth') }),
      outcome: 'unknown',
      code: 'local-auth-setting-unread',
      message: /malformed disableLocalAuth/,
    },
  ],
  { not_applicable: 'applies to all kinds' },
);

ruleTable(enc01, [
  {
    name: 'Microsoft-managed keys',
    account: anAccount({ associations: enforced }),
    outcome: 'pass',
    code: 'key-source-compatible',
    message: /Key source is Microsoft\.CognitiveServices/,
  },
  {
    name: 'customer-managed keys in a perimeter',
    account: anAccount({ associations: enforced, keySource: 'Microsoft.KeyVault' }),
    outcome: 'fail',
    code: 'customer-managed-key-with-perimeter',
    message: /customer-managed keys might not behave as expected/,
  },
  {
    name: 'customer-managed keys outside a perimeter',
    account: anAccount({ keySource: 'Microsoft.KeyVault' }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no Succeeded/,
  },
  {
    name: 'association unread',
    account: anAccount({ associations: unreadable() }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /could not be decided/,
  },
  {
    name: 'encryption malformed',
    account: anAccount({ associations: enforced, keySource: unreadable('malformed encryption') }),
    outcome: 'unknown',
    code: 'encryption-settings-unread',
    message: /malformed encryption/,
  },
]);
