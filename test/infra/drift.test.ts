import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { formatDiagnostic } from '../../scripts/infra/build.js';
import { ALLOWED_ROLES } from '../../scripts/infra/check.js';
import { runBicep } from '../../scripts/infra/compiler.js';
import { BicepSession } from '../../scripts/infra/rpc.js';
import { SETTINGS_NOT_DEPLOYED } from '../../src/config/settings.js';
import { ENTRY, ROOT } from '../helpers/paths.js';
import { runNode } from '../helpers/spawn.js';
import { found, INFRA_BUILD, type Mutation, mutatedCopy, needsCompiler, verdict, verdictOfMutation } from './compiler.js';

/**
 * The drift check against mutations of the Bicep source, each compiled for real by the pinned compiler
 * (one JSON-RPC process for the file; a compile and the check's deployments take well under a second) in a
 * temporary copy of infra/. Each check category fails on at least one such mutation.
 */

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

  /** The problems of the mutated checkout; asserts it compiles and one problem matches `pattern`. */
  async function problemsMatching(pattern: RegExp, ...mutations: Mutation[]): Promise<string[]> {
    const v = await verdictOfMutation(session, ...mutations);
    assert.ok('problems' in v, `the mutation compiles: ${'errors' in v ? v.errors.join('\n') : ''}`);
    assert.ok(v.problems.some((p) => pattern.test(p)), `expected a problem matching ${pattern}, got:\n${v.problems.join('\n')}`);
    return v.problems;
  }

  /** The compile errors of the mutated checkout; asserts one matches `pattern`. */
  async function compileErrorMatching(pattern: RegExp, ...mutations: Mutation[]): Promise<void> {
    const v = await verdictOfMutation(session, ...mutations);
    assert.ok('errors' in v, `expected a compile error, but it compiled; problems: ${'problems' in v ? v.problems.join('\n') : ''}`);
    assert.ok(v.errors.some((e) => pattern.test(e)), `expected a compile error matching ${pattern}, got:\n${v.errors.join('\n')}`);
  }

  it('infra/ as committed compiles and agrees with the code', async () => {
    const v = await verdict(ROOT, session);
    assert.ok('problems' in v, 'errors' in v ? v.errors.join('\n') : '');
    assert.deepEqual(v.problems, []);
    assert.match(v.templates.main.metadata?._generator?.version ?? '', new RegExp(`^${found.bicep!.version.replace(/\./g, '\\.')}`));
  });

  describe('settings', () => {
    it('fails when a setting the code reads is not set by the infrastructure', async () => {
      const problems = await problemsMatching(/setting DEEP_INSPECTION_CONCURRENCY: read by the code .* not set by infra/, ['infra/main.bicep', /\n {2}DEEP_INSPECTION_CONCURRENCY: deepInspectionConcurrency/, '']);
      // The now unused parameter is the linter's business (infra:build), not a second drift problem.
      assert.deepEqual(problems, ['setting DEEP_INSPECTION_CONCURRENCY: read by the code (src/config/settings.ts) but not set by infra/main.bicep']);
    });
    it('fails when the infrastructure sets a setting the code does not read', async () => {
      await problemsMatching(/setting SCAN_PARALLELISM: set by infra\/main.bicep but not read by the code/, ['infra/main.bicep', 'AUDIT_CONTAINER: auditContainerName', 'AUDIT_CONTAINER: auditContainerName\n  SCAN_PARALLELISM: \'4\'']);
    });
    it('fails when a setting declared not deployed (a connection string) is deployed', async () => {
      assert.ok(SETTINGS_NOT_DEPLOYED.AUDIT_STORAGE_CONNECTION_STRING);
      await problemsMatching(
        /setting AUDIT_STORAGE_CONNECTION_STRING: infra\/main.bicep sets it, but the code says it is not deployed/,
        ['infra/main.bicep', 'AUDIT_CONTAINER: auditContainerName', 'AUDIT_CONTAINER: auditContainerName\n  AUDIT_STORAGE_CONNECTION_STRING: \'x\''],
      );
    });
    it('fails when a parameter default or allowed value is one the settings schema rejects', async () => {
      await problemsMatching(/setting DEEP_INSPECTION_CONCURRENCY: infra\/main.bicep sets "eight" \(with the defaults\), which src\/config\/settings.ts rejects/, ['infra/main.bicep', 'param deepInspectionConcurrency string = \'8\'', 'param deepInspectionConcurrency string = \'eight\'']);
      await problemsMatching(/setting ALERT_MIN_SEVERITY: infra\/main.bicep sets "critical" \(with alertMinSeverity="critical".*\)/, ['infra/main.bicep', '@allowed([\'high\', \'medium\', \'low\'])', '@allowed([\'high\', \'medium\', \'low\', \'critical\'])']);
    });
    it('fails when a webhook secret is a plain value instead of a Key Vault reference to the deployed vault', async () => {
      await problemsMatching(
        /setting ALERT_WEBHOOK_SECOPS_SECRET: must be a Key Vault reference to the deployed vault/,
        ['infra/main.bicep', /w => '@Microsoft\.KeyVault\(VaultName=\$\{keyVaultName\};SecretName=\$\{toLower\(replace\('alert-webhook-\$\{w\.name\}-secret'[^\n]*/, 'w => \'whsec_plain\')'],
      );
      await problemsMatching(/setting ALERT_WEBHOOK_SECOPS_URL: must be a Key Vault reference to the deployed vault/, ['infra/main.bicep', /VaultName=\$\{keyVaultName\};SecretName=\$\{toLower\(replace\('alert-webhook-\$\{w\.name\}-url'/, 'VaultName=kv-elsewhere;SecretName=${toLower(replace(\'alert-webhook-${w.name}-url\'']);
    });
    it('fails when the app settings may be applied before the Key Vault role that resolves their references', async () => {
      await problemsMatching(/the app settings \(module appsettings\) must dependsOn the Key Vault module \(keyvault\)/, ['infra/main.bicep', /\n\s*\/\/ The references resolve with the identity's role on the vault\.\n\s*dependsOn: \[vault\]/, '']);
    });
    it('fails when the host and the code would sign in as different identities', async () => {
      await problemsMatching(/AzureWebJobsStorage__clientId and AZURE_CLIENT_ID must both be/, ['infra/main.bicep', /AZURE_CLIENT_ID: identity\.outputs\.clientId/, 'AZURE_CLIENT_ID: \'00000000-0000-0000-0000-000000000000\'']);
    });
    it('fails when the per-webhook secret is missing (the code\'s own webhook loader refuses the settings)', async () => {
      await problemsMatching(/src\/config\/alerts.ts refuses the webhook settings .*ALERT_WEBHOOK_SECOPS_SECRET is required for a cloudevents webhook/, ['infra/main.bicep', 'union(appSettings, webhookUrlSettings, webhookSecretSettings)', 'union(appSettings, webhookUrlSettings)']);
    });
  });

  describe('roles (least privilege)', () => {
    it('allows exactly Reader, Storage Blob Data Contributor, Storage Queue Data Contributor and Key Vault Secrets User', () => {
      assert.deepEqual(ALLOWED_ROLES.map((r) => r.name), ['Reader', 'Storage Blob Data Contributor', 'Storage Queue Data Contributor', 'Key Vault Secrets User']);
    });
    it('fails when a role assignment grants a role outside the list (Contributor)', async () => {
      await problemsMatching(/role assignment at \/subscriptions\/[^:]+: grants role b24988ac-6180-42a0-ab88-20f7382dd24c, which is not in the allowed list/, ['infra/modules/reader.bicep', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', 'b24988ac-6180-42a0-ab88-20f7382dd24c']);
    });
    it('fails when an allowed role is granted at a wider scope (Blob Data Contributor on the subscription)', async () => {
      await problemsMatching(/grants Storage Blob Data Contributor at subscription; allowed only at Microsoft.Storage\/storageAccounts/, ['infra/modules/reader.bicep', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe']);
    });
    it('fails when a storage role is granted on a storage account the deployment does not own', async () => {
      await problemsMatching(
        /grants Storage Blob Data Contributor at an existing Microsoft.Storage\/storageAccounts \(not one this deployment creates\)/,
        ['infra/modules/storage.bicep', 'resource blobService', 'resource other \'Microsoft.Storage/storageAccounts@2023-05-01\' existing = {\n  name: \'somebodyelse\'\n}\n\nresource blobService'],
        ['infra/modules/storage.bicep', /(resource blobRole[^]*?)scope: account/, '$1scope: other'],
      );
    });
    it('fails when a role goes to another principal than the app\'s identity', async () => {
      await problemsMatching(/keyvault.*: grants Key Vault Secrets User to a principal other than the app's identity/i, ['infra/main.bicep', /(module vault[^]*?)principalId: identity\.outputs\.principalId/, '$1principalId: \'00000000-0000-0000-0000-00000000dead\'']);
    });
    it('fails on a new role assignment anywhere, e.g. a second one in the Key Vault module', async () => {
      const extra = '\nresource officer \'Microsoft.Authorization/roleAssignments@2022-04-01\' = {\n  name: guid(vault.id, principalId, \'officer\')\n  scope: vault\n  properties: {\n    roleDefinitionId: subscriptionResourceId(\'Microsoft.Authorization/roleDefinitions\', \'b86a8fe4-44ce-4948-aee5-eccb2c155cd7\')\n    principalId: principalId\n    principalType: \'ServicePrincipal\'\n  }\n}\n';
      await problemsMatching(/vaults\/kv-[a-z0-9]+: grants role b86a8fe4-44ce-4948-aee5-eccb2c155cd7, which is not in the allowed list/, ['infra/modules/keyvault.bicep', /\noutput name/, `${extra}\noutput name`]);
    });
    it('fails when Key Vault Secrets User is granted without the Key Vault references that justify it', async () => {
      await problemsMatching(/Key Vault Secrets User is granted, but no app setting is a Key Vault reference to its vault resolved with the app's identity/, ['infra/modules/functionapp.bicep', /\n\s*keyVaultReferenceIdentity: identityId/, '']);
    });
    it('fails when Reader is not granted on a scanned subscription, or on a management group of the hook\'s template', async () => {
      await problemsMatching(/Reader is granted on subscriptions \[6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f\] but SCAN_SUBSCRIPTIONS is \[6f1c2d3e/, ['infra/main.bicep', /module reader 'modules\/reader\.bicep' = \[for subscriptionId in auditedSubscriptions:/, 'module reader \'modules/reader.bicep\' = [for subscriptionId in take(auditedSubscriptions, 1):']);
      await problemsMatching(/readermanagementgroup.bicep: role assignment at \/providers\/Microsoft.Management\/managementGroups\/mg-audited: grants role b24988ac/, ['infra/modules/readermanagementgroup.bicep', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', 'b24988ac-6180-42a0-ab88-20f7382dd24c']);
    });
  });

  describe('queues, events, azd', () => {
    it('fails when a queue the code uses is not created', async () => {
      await problemsMatching(/queue scan-shards-poison: used by the code but not created/, ['infra/main.bicep', '\'scan-shards-poison\'', '\'scan-shards-dead\'']);
    });
    it('fails when the Event Grid filter misses an operation the router handles, or delivers one it ignores', async () => {
      await problemsMatching(/event filter: Microsoft.Authorization\/roleAssignments\/delete is routed by src\/events\/route.ts but not delivered/, ['infra/modules/changeevents.bicep', /\n\s*'Microsoft\.Authorization\/roleAssignments\/delete'/, '']);
      await problemsMatching(/event filter: microsoft.compute\/virtualmachines\/write is delivered .* but src\/events\/route.ts ignores it/, ['infra/modules/changeevents.bicep', '\'Microsoft.CognitiveServices/accounts/write\'', '\'Microsoft.CognitiveServices/accounts/write\'\n            \'Microsoft.Compute/virtualMachines/write\'']);
    });
    it('fails when the event subscriptions would be created before the function exists', async () => {
      await problemsMatching(/event subscriptions are deployed while deployEventSubscriptions is false/, ['infra/modules/changeevents.bicep', '= if (deployEventSubscription) {', '= {']);
    });
    it('fails when the parameters file names a parameter main.bicep does not declare', async () => {
      await problemsMatching(/infra\/main.parameters.json sets region, which infra\/main.bicep does not declare/, ['infra/main.parameters.json', '"location": {', '"region": { "value": "x" },\n    "location": {']);
    });
    it('fails when azure.yaml would build on the server or runs a hook that does not exist', async () => {
      await problemsMatching(/must set remoteBuild: false/, ['azure.yaml', 'remoteBuild: false', 'remoteBuild: true']);
      await problemsMatching(/hook postdown \(posix\) runs infra\/hooks\/after-down.sh, which does not exist/, ['azure.yaml', 'run: infra/hooks/postdown.sh', 'run: infra/hooks/after-down.sh']);
    });
    it('leaves wiring to the compiler: an undeclared name, a module parameter or output that does not exist, bad syntax', async () => {
      await compileErrorMatching(/main.bicep\(\d+,\d+\) : Error BCP057: The name "scanSchedul" does not exist/, ['infra/main.bicep', 'SCAN_SCHEDULE: scanSchedule', 'SCAN_SCHEDULE: scanSchedul']);
      await compileErrorMatching(/Error BCP037: .*alwaysReady/, ['infra/main.bicep', 'maximumInstanceCount: maximumInstanceCount', 'maximumInstanceCount: maximumInstanceCount\n    alwaysReady: 1']);
      await compileErrorMatching(/Error BCP\d+: .*queueUrl/, ['infra/main.bicep', 'storage.outputs.queueEndpoint', 'storage.outputs.queueUrl']);
      await compileErrorMatching(/identity.bicep\(\d+,\d+\) : Error BCP\d+/, ['infra/modules/identity.bicep', 'location: location', 'location: ]']);
    });
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
      assert.match(build.stdout, /Bicep [0-9.]+ from .*linted 11 files: 0 error\(s\), 0 warning\(s\)/s);
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
        'infra/modules/reader.bicep(8,5) : Warning no-unused-vars: Variable "unusedThing" is declared but never used. [https://aka.ms/bicep/linter-diagnostics#no-unused-vars]',
      ]);
    } finally {
      rmSync(warned, { recursive: true, force: true });
    }
  });
});
