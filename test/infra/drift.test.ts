import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { formatDiagnostic, infraSources } from '../../scripts/infra/build.js';
import { ALLOWED_ROLES } from '../../scripts/infra/check.js';
import { runBicep } from '../../scripts/infra/compiler.js';
import { BicepSession } from '../../scripts/infra/rpc.js';
import { ENTRY, ROOT } from '../helpers/paths.js';
import { runNode } from '../helpers/spawn.js';
import { found, INFRA_BUILD, type Mutation, mutatedCopy, needsCompiler, type Verdict, verdict, verdictOfMutation } from './compiler.js';

/**
 * The drift check against mutations of the Bicep source, each compiled for real by the pinned compiler
 * (one JSON-RPC process for the file; a compile and the check's deployments take well under a second) in a
 * temporary copy of infra/. Each check category fails on at least one such mutation.
 */

it('the build stamp covers what Bicep loads into the templates (the workbook, the Sentinel query), not the hooks', () => {
  const sources = infraSources(ROOT);
  for (const f of ['infra/main.bicep', 'infra/modules/logexport.bicep', 'infra/workbooks/perimeter-auditor.workbook.json', 'infra/sentinel/new-high-fail.kql']) assert.ok(sources.includes(f), f);
  assert.deepEqual(sources.filter((f) => f.startsWith('infra/hooks/') || f.startsWith('infra/tools/')), []);
});

it('the Bicep compiler is there (CI must have it: the tests below would be skipped)', () => {
  if (process.env.CI === 'true') assert.ok(found.bicep, found.reason);
  else if (!found.bicep) console.warn(`test/infra: no Bicep compiler, compiler tests skipped: ${found.reason}`);
});

describe.skipIf(!found.bicep)(needsCompiler('infrastructure drift (compiled infra/ against the code)'), () => {
  let session: BicepSession;
  beforeAll(() => {
    session = new BicepSession(found.bicep!);
  });
  afterAll(async () => {
    await session.close();
  });

  /**
   * One mutation of the source and the problem it must cause. Cases of the same `group` are applied together
   * to one copy and compiled once (each compile and check takes about half a second; a group's mutations
   * touch unrelated lines), and each case still asserts its own problem.
   */
  interface Case {
    readonly group: string;
    readonly title: string;
    readonly mutations: readonly Mutation[];
    readonly expect: RegExp;
  }
  const REPLACE_SECRET = /w => '@Microsoft\.KeyVault\(VaultName=\$\{keyVaultName\};SecretName=\$\{toLower\(replace\('alert-webhook-\$\{w\.name\}-secret'[^\n]*/;
  const OFFICER = '\nresource officer \'Microsoft.Authorization/roleAssignments@2022-04-01\' = {\n  name: guid(vault.id, principalId, \'officer\')\n  scope: vault\n  properties: {\n'
    + '    roleDefinitionId: subscriptionResourceId(\'Microsoft.Authorization/roleDefinitions\', \'b86a8fe4-44ce-4948-aee5-eccb2c155cd7\')\n    principalId: principalId\n    principalType: \'ServicePrincipal\'\n  }\n}\n';
  const CASES: readonly Case[] = [
    // ---- settings, both ways, and their values
    {
      group: 'settings-a',
      title: 'a setting the code reads is not set by the infrastructure',
      mutations: [['infra/main.bicep', /\n {2}DEEP_INSPECTION_CONCURRENCY: deepInspectionConcurrency/, '']],
      expect: /^setting DEEP_INSPECTION_CONCURRENCY: read by the code \(src\/config\/settings.ts\) but not set by infra\/main.bicep$/,
    },
    {
      group: 'settings-a',
      title: 'the infrastructure sets a setting the code does not read',
      mutations: [['infra/main.bicep', 'AUDIT_CONTAINER: auditContainerName', 'AUDIT_CONTAINER: auditContainerName\n  SCAN_PARALLELISM: \'4\'']],
      expect: /setting SCAN_PARALLELISM: set by infra\/main.bicep but not read by the code/,
    },
    {
      group: 'settings-a',
      title: 'a setting declared not deployed (a connection string) is deployed',
      mutations: [['infra/main.bicep', 'AUDIT_CONTAINER: auditContainerName', 'AUDIT_CONTAINER: auditContainerName\n  AUDIT_STORAGE_CONNECTION_STRING: \'x\'']],
      expect: /setting AUDIT_STORAGE_CONNECTION_STRING: infra\/main.bicep sets it, but the code says it is not deployed/,
    },
    {
      group: 'settings-a',
      title: 'an allowed value of a parameter is one the settings schema rejects',
      mutations: [['infra/main.bicep', '@allowed([\'high\', \'medium\', \'low\'])', '@allowed([\'high\', \'medium\', \'low\', \'critical\'])']],
      expect: /setting ALERT_MIN_SEVERITY: infra\/main.bicep sets "critical" \(with alertMinSeverity="critical".*\), which src\/config\/settings.ts rejects/,
    },
    {
      group: 'settings-a',
      title: 'the host and the code would sign in as different identities',
      mutations: [['infra/main.bicep', /AZURE_CLIENT_ID: identity\.outputs\.clientId/, 'AZURE_CLIENT_ID: \'00000000-0000-0000-0000-000000000000\'']],
      expect: /AzureWebJobsStorage__clientId and AZURE_CLIENT_ID must both be/,
    },
    {
      group: 'settings-b',
      title: 'a parameter default is one the settings schema rejects',
      mutations: [['infra/main.bicep', 'param deepInspectionConcurrency string = \'8\'', 'param deepInspectionConcurrency string = \'eight\'']],
      expect: /setting DEEP_INSPECTION_CONCURRENCY: infra\/main.bicep sets "eight" \(with the defaults\), which src\/config\/settings.ts rejects/,
    },
    {
      group: 'settings-b',
      title: 'a webhook secret is a plain value instead of a Key Vault reference',
      mutations: [['infra/main.bicep', REPLACE_SECRET, 'w => \'whsec_plain\')']],
      expect: /setting ALERT_WEBHOOK_SECOPS_SECRET: must be a Key Vault reference to the deployed vault/,
    },
    {
      group: 'settings-a',
      title: 'a webhook URL is a Key Vault reference to another vault than the deployed one',
      mutations: [['infra/main.bicep', /VaultName=\$\{keyVaultName\};SecretName=\$\{toLower\(replace\('alert-webhook-\$\{w\.name\}-url'/, 'VaultName=kv-elsewhere;SecretName=${toLower(replace(\'alert-webhook-${w.name}-url\'']],
      expect: /setting ALERT_WEBHOOK_(SECOPS|TEAMS_CHANNEL)_URL: must be a Key Vault reference to the deployed vault/,
    },
    {
      group: 'settings-b',
      title: 'the app settings may be applied before the Key Vault role that resolves their references (dependsOn)',
      mutations: [['infra/main.bicep', /\n\s*\/\/ The references resolve with the identity's role on the vault\.\n\s*dependsOn: \[vault\]/, '']],
      expect: /the app settings \(module appsettings\) must dependsOn the Key Vault module \(keyvault\)/,
    },
    {
      group: 'settings-c',
      title: 'a signed webhook\'s secret setting is missing (the code\'s own webhook loader refuses the settings)',
      mutations: [['infra/main.bicep', 'union(appSettings, webhookUrlSettings, webhookSecretSettings)', 'union(appSettings, webhookUrlSettings)']],
      expect: /src\/config\/alerts.ts refuses the webhook settings .*ALERT_WEBHOOK_SECOPS_SECRET is required for a cloudevents webhook/,
    },
    // ---- roles and scopes
    {
      group: 'roles-a',
      title: 'a role assignment grants a role outside the list (Contributor on a subscription)',
      mutations: [['infra/modules/reader.bicep', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', 'b24988ac-6180-42a0-ab88-20f7382dd24c']],
      expect: /role assignment at \/subscriptions\/[^:]+: grants role b24988ac-6180-42a0-ab88-20f7382dd24c, which is not in the allowed list/,
    },
    {
      group: 'roles-a',
      title: 'a storage role is granted on a storage account the deployment does not own',
      mutations: [
        ['infra/modules/storage.bicep', 'resource blobService', 'resource other \'Microsoft.Storage/storageAccounts@2023-05-01\' existing = {\n  name: \'somebodyelse\'\n}\n\nresource blobService'],
        ['infra/modules/storage.bicep', /(resource blobRole[^]*?)scope: account/, '$1scope: other'],
      ],
      expect: /grants Storage Blob Data Contributor at an existing Microsoft.Storage\/storageAccounts \(not one this deployment creates\)/,
    },
    {
      group: 'roles-a',
      title: 'a role goes to another principal than the app\'s identity',
      mutations: [['infra/main.bicep', /(module vault[^]*?)principalId: identity\.outputs\.principalId/, '$1principalId: \'00000000-0000-0000-0000-00000000dead\'']],
      expect: /vaults\/kv-[a-z0-9]+: grants Key Vault Secrets User to a principal other than the app's identity/,
    },
    {
      group: 'roles-a',
      title: 'a new role assignment appears anywhere, e.g. a second one in the Key Vault module',
      mutations: [['infra/modules/keyvault.bicep', /\noutput name/, `${OFFICER}\noutput name`]],
      expect: /vaults\/kv-[a-z0-9]+: grants role b86a8fe4-44ce-4948-aee5-eccb2c155cd7, which is not in the allowed list/,
    },
    {
      group: 'roles-a',
      title: 'Key Vault Secrets User is granted without the Key Vault references that justify it',
      mutations: [['infra/modules/functionapp.bicep', /\n\s*keyVaultReferenceIdentity: identityId/, '']],
      expect: /Key Vault Secrets User is granted, but no app setting is a Key Vault reference to its vault resolved with the app's identity/,
    },
    {
      group: 'roles-b',
      title: 'an allowed role is granted at a wider scope (Blob Data Contributor on the subscription)',
      mutations: [['infra/modules/reader.bicep', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe']],
      expect: /grants Storage Blob Data Contributor at subscription; allowed only at Microsoft.Storage\/storageAccounts/,
    },
    {
      group: 'roles-b',
      title: 'the management-group template grants another role than Reader',
      mutations: [['infra/modules/readermanagementgroup.bicep', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', 'b24988ac-6180-42a0-ab88-20f7382dd24c']],
      expect: /readermanagementgroup.bicep: role assignment at \/providers\/Microsoft.Management\/managementGroups\/mg-audited: grants role b24988ac/,
    },
    // ---- queues, events, Reader on the scanned subscriptions
    {
      group: 'storage-events',
      title: 'a queue the code uses is not created',
      mutations: [['infra/main.bicep', '\'scan-shards-poison\'', '\'scan-shards-dead\'']],
      expect: /queue scan-shards-poison: used by the code but not created/,
    },
    {
      group: 'storage-events',
      title: 'the Event Grid filter misses an operation the router handles',
      mutations: [['infra/modules/changeevents.bicep', /\n\s*'Microsoft\.Authorization\/roleAssignments\/delete'/, '']],
      expect: /event filter: Microsoft.Authorization\/roleAssignments\/delete is routed by src\/events\/route.ts but not delivered/,
    },
    {
      group: 'storage-events',
      title: 'the Event Grid filter misses Cosmos DB\'s data-plane role assignments (ID-02, ID-04), which the router handles',
      mutations: [['infra/modules/changeevents.bicep', /\n\s*'Microsoft\.DocumentDB\/databaseAccounts\/sqlRoleAssignments\/write'/, '']],
      expect: /event filter: Microsoft.DocumentDB\/databaseAccounts\/sqlRoleAssignments\/write is routed by src\/events\/route.ts but not delivered/,
    },
    {
      group: 'storage-events',
      title: 'the Event Grid filter delivers an operation the router ignores',
      mutations: [['infra/modules/changeevents.bicep', '\'Microsoft.CognitiveServices/accounts/write\'', '\'Microsoft.CognitiveServices/accounts/write\'\n            \'Microsoft.Compute/virtualMachines/write\'']],
      expect: /event filter: microsoft.compute\/virtualmachines\/write is delivered .* but src\/events\/route.ts ignores it/,
    },
    {
      group: 'storage-events',
      title: 'the event subscriptions would be created before the function exists',
      mutations: [['infra/modules/changeevents.bicep', '= if (deployEventSubscription) {', '= {']],
      expect: /event subscriptions are deployed while deployEventSubscriptions is false/,
    },
    {
      group: 'storage-events',
      title: 'Reader is not granted on every scanned subscription',
      mutations: [['infra/main.bicep', /module reader 'modules\/reader\.bicep' = \[for subscriptionId in auditedSubscriptions:/, 'module reader \'modules/reader.bicep\' = [for subscriptionId in take(auditedSubscriptions, 1):']],
      expect: /Reader is granted on subscriptions \[6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f\] but SCAN_SUBSCRIPTIONS is \[6f1c2d3e/,
    },
    {
      group: 'storage-events',
      title: 'Log Analytics Reader (NSP-07\'s access-log queries) is not granted on the scanned subscriptions',
      mutations: [['infra/modules/reader.bicep', 'resource logAnalyticsReaderRole \'Microsoft.Authorization/roleAssignments@2022-04-01\' = {', 'resource logAnalyticsReaderRole \'Microsoft.Authorization/roleAssignments@2022-04-01\' = if (false) {']],
      expect: /Log Analytics Reader is granted on subscriptions \[\] but SCAN_SUBSCRIPTIONS is \[/,
    },
    // ---- the findings export (src/export/tables.ts), its role and settings
    {
      group: 'export',
      title: 'a column is renamed in the table only (the stream declaration and the code keep Severity)',
      mutations: [['infra/modules/logexport.bicep', /(schema: \{[^}]*?columns: )t\.columns/, '$1map(t.columns, c => c.name == \'Severity\' ? { name: \'SeverityLevel\', type: c.type } : c)']],
      expect: /logexport.bicep: table PerimeterAuditorFindings_CL: column Severity \(string\) of the code \(src\/export\/tables.ts\) is missing$/,
    },
    {
      group: 'export',
      title: 'a column\'s type is changed in the stream declaration only (Exempted as string)',
      mutations: [['infra/modules/logexport.bicep', 't => { columns: t.columns }', 't => { columns: map(t.columns, c => c.name == \'Exempted\' ? { name: c.name, type: \'string\' } : c) }']],
      expect: /data collection rule dcr-auditor-[a-z0-9]+: stream Custom-PerimeterAuditorFindings: column Exempted is string, the code \(src\/export\/tables.ts\) says boolean$/,
    },
    {
      group: 'export',
      title: 'a data flow takes a stream to the wrong table (scans into the findings table)',
      mutations: [['infra/modules/logexport.bicep', 'outputStream: \'Custom-${t.name}\'', 'outputStream: \'Custom-${tables[0].name}\'']],
      expect: /the data flow of stream Custom-PerimeterAuditorScans goes to Custom-PerimeterAuditorFindings_CL, not to its table Custom-PerimeterAuditorScans_CL$/,
    },
    {
      group: 'export',
      title: 'Monitoring Metrics Publisher is granted at a wider scope (the resource group instead of the data collection rule)',
      mutations: [['infra/modules/logexport.bicep', /(resource publisher[^]*?)\n {2}scope: dcr/, '$1']],
      expect: /role assignment at \/subscriptions\/[^/]+\/resourceGroups\/rg-audit-prod: grants Monitoring Metrics Publisher at resourceGroup; allowed only at Microsoft.Insights\/dataCollectionRules$/,
    },
    {
      group: 'export',
      title: 'the app would upload through another rule than the deployed one (LOGS_DCR_IMMUTABLE_ID)',
      mutations: [['infra/main.bicep', 'LOGS_DCR_IMMUTABLE_ID: logExport.outputs.immutableId', 'LOGS_DCR_IMMUTABLE_ID: \'dcr-00000000000000000000000000000000\'']],
      expect: /^setting LOGS_DCR_IMMUTABLE_ID: must be the immutable ID of the data collection rule dcr-auditor-[a-z0-9]+$/,
    },
    {
      group: 'export-kind',
      title: 'the data collection rule is not Direct (it would have no logs ingestion endpoint of its own)',
      mutations: [['infra/modules/logexport.bicep', 'kind: \'Direct\'', 'kind: \'Linux\'']],
      expect: /data collection rule dcr-auditor-[a-z0-9]+: kind must be Direct/,
    },
    // ---- the workbook and the Sentinel rule
    {
      group: 'workbook-sentinel',
      title: 'the workbook is linked to another resource than the export\'s workspace',
      mutations: [['infra/main.bicep', /(module workbook[^]*?workspaceId: )monitoring\.outputs\.workspaceId/, '$1identity.outputs.id']],
      expect: /workbook.bicep: the workbook's sourceId must be the workspace that holds the export tables/,
    },
    {
      group: 'workbook-sentinel',
      title: 'the Sentinel rule is deployed when no Sentinel workspace is named',
      mutations: [['infra/main.bicep', 'module sentinel \'modules/sentinel.bicep\' = if (!empty(sentinelWorkspaceId)) {', 'module sentinel \'modules/sentinel.bicep\' = {']],
      expect: /sentinel.bicep: a Sentinel rule is deployed while sentinelWorkspaceId is empty \(with the defaults\)$/,
    },
    {
      group: 'workbook-sentinel',
      title: 'the Sentinel rule\'s query is not the file the Kusto parser checks',
      mutations: [['infra/modules/sentinel.bicep', 'query: loadTextContent(\'../sentinel/new-high-fail.kql\')', 'query: \'PerimeterAuditorFindings_CL | where Severity == "high"\'']],
      expect: /sentinel.bicep: the Sentinel rule's query must be infra\/sentinel\/new-high-fail.kql/,
    },
    {
      group: 'workbook-sentinel',
      title: 'the Sentinel rule does not map the account as an AzureResource entity',
      mutations: [['infra/modules/sentinel.bicep', 'columnName: \'ResourceId\'', 'columnName: \'AccountName\'']],
      expect: /sentinel.bicep: the Sentinel rule must map the account as its AzureResource entity/,
    },
    // ---- azd's files
    {
      group: 'azd',
      title: 'the parameters file names a parameter main.bicep does not declare',
      mutations: [['infra/main.parameters.json', '"location": {', '"region": { "value": "x" },\n    "location": {']],
      expect: /infra\/main.parameters.json sets region, which infra\/main.bicep does not declare/,
    },
    {
      group: 'azd',
      title: 'azure.yaml would build on the server',
      mutations: [['azure.yaml', 'remoteBuild: false', 'remoteBuild: true']],
      expect: /must set remoteBuild: false/,
    },
    {
      group: 'azd',
      title: 'azure.yaml runs a hook that does not exist',
      mutations: [['azure.yaml', 'run: infra/hooks/postdown.sh', 'run: infra/hooks/after-down.sh']],
      expect: /hook postdown \(posix\) runs infra\/hooks\/after-down.sh, which does not exist/,
    },
  ];
  /**
   * Problems a group's mutations cause besides the cases' own, and why: a bad default is set by every
   * deployment, not only the defaults; a role other than Reader in
   * reader.bicep leaves the scanned subscriptions without Reader; the plain secret value is also refused by
   * the code's webhook loader; the renamed queue is one the code does not use. Anything else in a group's verdict is a false alarm.
   */
  const COLLATERAL: Readonly<Record<string, readonly RegExp[]>> = {
    'settings-b': [/setting DEEP_INSPECTION_CONCURRENCY: infra\/main.bicep sets "eight" \(with .*\)/, /src\/config\/alerts.ts refuses the webhook settings .*ALERT_WEBHOOK_SECOPS_SECRET: expected a Standard Webhooks secret/],
    'roles-a': [/Reader is granted on subscriptions \[\] but SCAN_SUBSCRIPTIONS is/],
    'storage-events': [/queue scan-shards-dead: created by infra\/ but not used by the code/],
    'roles-b': [/Reader is granted on subscriptions \[\] but SCAN_SUBSCRIPTIONS is/, /readermanagementgroup.bicep: must grant Reader and Log Analytics Reader on the management group, once each/],
    // The workbook's placeholder becomes the resource it is linked to, not the workspace.
    'workbook-sentinel': [/perimeter-auditor.workbook.json: fallbackResourceIds must be \["__AUDITOR_WORKSPACE_ID__"\] \(the workspace, once deployed\)/],
    // The renamed column is also one the code lacks; the role moved off the rule leaves none on it.
    export: [
      /table PerimeterAuditorFindings_CL: column SeverityLevel is not a column of the code's table/,
      /logexport.bicep: Monitoring Metrics Publisher must be granted once, on the data collection rule dcr-auditor-[a-z0-9]+ \(granted on \[\/subscriptions\/[^/]+\/resourceGroups\/rg-audit-prod\]\)/,
    ],
  };

  const verdicts = new Map<string, Promise<Verdict>>();
  /** The verdict on the checkout with every mutation of `group` applied, compiled once. */
  function verdictOf(group: string): Promise<Verdict> {
    let v = verdicts.get(group);
    if (!v) {
      v = verdictOfMutation(session, ...CASES.filter((c) => c.group === group).flatMap((c) => c.mutations));
      verdicts.set(group, v);
    }
    return v;
  }
  async function problemsOf(group: string): Promise<string[]> {
    const v = await verdictOf(group);
    assert.ok('problems' in v, `the mutations of ${group} compile: ${'errors' in v ? v.errors.join('\n') : ''}`);
    return v.problems;
  }

  it('infra/ as committed compiles and agrees with the code', async () => {
    const v = await verdict(ROOT, session);
    assert.ok('problems' in v, 'errors' in v ? v.errors.join('\n') : '');
    assert.deepEqual(v.problems, []);
    assert.match(v.templates.main.metadata?._generator?.version ?? '', new RegExp(`^${found.bicep!.version.replace(/\./g, '\\.')}`));
  });

  it('allows exactly Reader, Log Analytics Reader, Storage Blob Data Contributor, Storage Queue Data Contributor, Key Vault Secrets User and Monitoring Metrics Publisher', () => {
    assert.deepEqual(ALLOWED_ROLES.map((r) => r.name), [
      'Reader', 'Log Analytics Reader', 'Storage Blob Data Contributor', 'Storage Queue Data Contributor', 'Key Vault Secrets User', 'Monitoring Metrics Publisher',
    ]);
    assert.deepEqual(ALLOWED_ROLES.find((r) => r.name === 'Monitoring Metrics Publisher')?.scopes, ['Microsoft.Insights/dataCollectionRules']);
  });

  describe('fails on a mutation of the Bicep source, compiled for real, when…', () => {
    for (const c of CASES) {
      it(`${c.title} [${c.group}]`, async () => {
        const problems = await problemsOf(c.group);
        assert.ok(problems.some((p) => c.expect.test(p)), `expected a problem matching ${c.expect}, got:\n${problems.join('\n')}`);
      });
    }
    it('and reports nothing else: every problem of a group is one of its cases\' (no false alarm)', async () => {
      for (const group of new Set(CASES.map((c) => c.group))) {
        const expected = [...CASES.filter((c) => c.group === group).map((c) => c.expect), ...(COLLATERAL[group] ?? [])];
        const stray = (await problemsOf(group)).filter((p) => !expected.some((e) => e.test(p)));
        assert.deepEqual(stray, [], `${group}: problems no case expects`);
      }
    });
  });

  /** The compile errors of the mutated checkout; asserts one matches `pattern`. */
  async function compileErrorMatching(pattern: RegExp, ...mutations: Mutation[]): Promise<void> {
    const v = await verdictOfMutation(session, ...mutations);
    assert.ok('errors' in v, `expected a compile error, but it compiled; problems: ${'problems' in v ? v.problems.join('\n') : ''}`);
    assert.ok(v.errors.some((e) => pattern.test(e)), `expected a compile error matching ${pattern}, got:\n${v.errors.join('\n')}`);
  }

  it('leaves wiring to the compiler: an undeclared name, a module parameter or output that does not exist, bad syntax', async () => {
    await compileErrorMatching(/main.bicep\(\d+,\d+\) : Error BCP057: The name "scanSchedul" does not exist/, ['infra/main.bicep', 'SCAN_SCHEDULE: scanSchedule', 'SCAN_SCHEDULE: scanSchedul']);
    await compileErrorMatching(/Error BCP037: .*alwaysReady/, ['infra/main.bicep', 'maximumInstanceCount: maximumInstanceCount', 'maximumInstanceCount: maximumInstanceCount\n    alwaysReady: 1']);
    await compileErrorMatching(/Error BCP\d+: .*queueUrl/, ['infra/main.bicep', 'storage.outputs.queueEndpoint', 'storage.outputs.queueUrl']);
    await compileErrorMatching(/identity.bicep\(\d+,\d+\) : Error BCP\d+/, ['infra/modules/identity.bicep', 'location: location', 'location: ]']);
  });

  it('npm run infra:build compiles and lints a checkout, and infra:check reads what it wrote', async () => {
    // The clean checkout's own build and check are CI's (.ci/run); here a drifted copy. Each compiler start
    // costs about a second, so one build (two compiles and a lint) and one check.
    const drifted = mutatedCopy([['infra/main.bicep', '\'scan-shards-poison\'', '\'scan-shards-dead\'']]);
    try {
      const stale = await runNode(ENTRY.infraCheck, ['--root', drifted]);
      assert.equal(stale.code, 2, stale.output);
      assert.match(stale.stderr, /dist\/infra\/build.json is missing .*run `npm run infra:build` first/);
      const build = await runNode(INFRA_BUILD, ['--root', drifted]);
      assert.equal(build.code, 0, build.output);
      assert.match(build.stdout, /Bicep [0-9.]+ from .*linted 14 files: 0 error\(s\), 0 warning\(s\)/s);
      assert.ok(existsSync(join(drifted, 'dist', 'infra', 'main.json')));
      const drift = await runNode(ENTRY.infraCheck, ['--root', drifted]);
      assert.equal(drift.code, 1, drift.output);
      assert.match(drift.stderr, /infra drift: queue scan-shards-poison: used by the code but not created/);
    } finally {
      rmSync(drifted, { recursive: true, force: true });
    }
  });

  it('bicep lint\'s warnings are read as infra:build counts them (zero warnings is the bar)', () => {
    const warned = mutatedCopy([['infra/modules/reader.bicep', 'var reader =', 'var unusedThing = 1\nvar reader =']]);
    try {
      const lint = runBicep(found.bicep!, ['lint', 'infra/modules/reader.bicep'], warned);
      assert.equal(lint.code, 0, 'bicep lint exits 0 on warnings: infra:build counts them itself');
      assert.deepEqual(lint.diagnostics.map((d) => formatDiagnostic(warned, d)), [
        'infra/modules/reader.bicep(10,5) : Warning no-unused-vars: Variable "unusedThing" is declared but never used. [https://aka.ms/bicep/linter-diagnostics#no-unused-vars]',
      ]);
    } finally {
      rmSync(warned, { recursive: true, force: true });
    }
  });
});
