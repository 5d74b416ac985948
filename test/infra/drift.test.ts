import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { ALLOWED_ROLES, checkInfra, readInfraSources } from '../../scripts/infra/check.js';
import { BicepSyntaxError, parseBicep } from '../../scripts/infra/bicep.js';
import { SETTINGS_NOT_DEPLOYED } from '../../src/config/settings.js';
import { ENTRY, ROOT as root } from '../helpers/paths.js';
import { runNode } from '../helpers/spawn.js';

const real = readInfraSources(root);

/** The real sources with one file's text changed; fails if `from` is not in the file (a stale mutation). */
function mutate(path: string, from: string | RegExp, to: string, sources: ReadonlyMap<string, string> = real): Map<string, string> {
  const text = sources.get(path);
  assert.ok(text !== undefined, `${path} exists`);
  const changed = text.replace(from, to);
  assert.notEqual(changed, text, `the mutation of ${path} applies`);
  return new Map(sources).set(path, changed);
}

function problemsMatching(sources: ReadonlyMap<string, string>, pattern: RegExp): string[] {
  const problems = checkInfra(sources);
  assert.ok(problems.some((p) => pattern.test(p)), `expected a problem matching ${pattern}, got:\n${problems.join('\n')}`);
  return problems;
}

describe('infrastructure drift (infra/ against the code)', () => {
  it('infra/ as committed agrees with the code', () => {
    assert.deepEqual(checkInfra(real), []);
  });

  it('reads every Bicep file of infra/', () => {
    const bicep = [...real.keys()].filter((p) => p.endsWith('.bicep'));
    assert.ok(bicep.length >= 8, bicep.join(', '));
    for (const p of bicep) assert.ok(parseBicep(real.get(p)!, p).declarations.length > 0, p);
  });

  describe('settings', () => {
    it('fails when a setting the code reads is not set by the infrastructure', () => {
      const problems = problemsMatching(mutate('infra/main.bicep', /\n {2}DEEP_INSPECTION_CONCURRENCY: deepInspectionConcurrency/, ''), /setting DEEP_INSPECTION_CONCURRENCY: read by the code .* not set by infra/);
      assert.equal(problems.length, 1, problems.join('\n'));
    });
    it('fails when the infrastructure sets a setting the code does not read', () => {
      problemsMatching(mutate('infra/main.bicep', 'AUDIT_CONTAINER: auditContainerName', 'AUDIT_CONTAINER: auditContainerName\n  SCAN_PARALLELISM: \'4\''), /setting SCAN_PARALLELISM: set by infra\/main.bicep but not read by the code/);
    });
    it('fails when a setting declared not deployed (a connection string) is deployed', () => {
      assert.ok(SETTINGS_NOT_DEPLOYED.AUDIT_STORAGE_CONNECTION_STRING);
      problemsMatching(
        mutate('infra/main.bicep', 'AUDIT_CONTAINER: auditContainerName', 'AUDIT_CONTAINER: auditContainerName\n  AUDIT_STORAGE_CONNECTION_STRING: \'x\''),
        /setting AUDIT_STORAGE_CONNECTION_STRING: infra\/main.bicep sets it, but the code says it is not deployed/,
      );
    });
    it('fails when a parameter default or allowed value is one the settings schema rejects', () => {
      problemsMatching(mutate('infra/main.bicep', 'param deepInspectionConcurrency string = \'8\'', 'param deepInspectionConcurrency string = \'eight\''), /setting DEEP_INSPECTION_CONCURRENCY: .*"eight", which src\/config\/settings.ts rejects/);
      problemsMatching(mutate('infra/main.bicep', '@allowed([\'high\', \'medium\', \'low\'])', '@allowed([\'high\', \'medium\', \'low\', \'critical\'])'), /setting ALERT_MIN_SEVERITY: .*"critical"/);
    });
    it('fails when a webhook secret is a plain value instead of a Key Vault reference', () => {
      problemsMatching(
        mutate('infra/main.bicep', /w => '@Microsoft\.KeyVault\(VaultName=\$\{keyVaultName\};SecretName=\$\{toLower\(replace\('alert-webhook-\$\{w\.name\}-secret'[^\n]*/, 'w => \'whsec_plain\')'),
        /setting ALERT_WEBHOOK_<\*>_SECRET: must be a Key Vault reference/,
      );
    });
    it('fails when the host and the code would sign in as different identities', () => {
      problemsMatching(mutate('infra/main.bicep', /AZURE_CLIENT_ID: identity\.outputs\.clientId/, 'AZURE_CLIENT_ID: \'00000000-0000-0000-0000-000000000000\''), /AzureWebJobsStorage__clientId and AZURE_CLIENT_ID must both be/);
    });
    it('fails when the per-webhook settings are missing', () => {
      problemsMatching(mutate('infra/main.bicep', 'union(appSettings, webhookUrlSettings, webhookSecretSettings)', 'union(appSettings, webhookUrlSettings)'), /setting ALERT_WEBHOOK_<\*>_SECRET: read by the code .* for each webhook/);
    });
  });

  describe('roles (least privilege)', () => {
    it('allows exactly Reader, Storage Blob Data Contributor, Storage Queue Data Contributor and Key Vault Secrets User', () => {
      assert.deepEqual(ALLOWED_ROLES.map((r) => r.name), ['Reader', 'Storage Blob Data Contributor', 'Storage Queue Data Contributor', 'Key Vault Secrets User']);
    });
    it('fails when a role assignment grants a role outside the list (Contributor)', () => {
      problemsMatching(mutate('infra/modules/reader.bicep', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', 'b24988ac-6180-42a0-ab88-20f7382dd24c'), /grants role b24988ac-6180-42a0-ab88-20f7382dd24c, which is not in the allowed list/);
    });
    it('fails when an allowed role is granted at a wider scope (Blob Data Contributor on the subscription)', () => {
      problemsMatching(mutate('infra/modules/reader.bicep', 'acdd72a7-3385-48ef-bd42-f606fba81ae7', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'), /grants Storage Blob Data Contributor at subscription; allowed only at Microsoft.Storage\/storageAccounts/);
    });
    it('fails when a storage role is granted on a storage account the deployment does not own', () => {
      const withExisting = mutate('infra/modules/storage.bicep', 'resource blobService', 'resource other \'Microsoft.Storage/storageAccounts@2023-05-01\' existing = {\n  name: \'somebodyelse\'\n}\n\nresource blobService');
      problemsMatching(mutate('infra/modules/storage.bicep', /(resource blobRole[^]*?)scope: account/, '$1scope: other', withExisting), /grants Storage Blob Data Contributor at an existing Microsoft.Storage\/storageAccounts/);
    });
    it('fails when a role goes to another principal than the app\'s identity', () => {
      problemsMatching(mutate('infra/main.bicep', /(module vault[^]*?)principalId: identity\.outputs\.principalId/, '$1principalId: deployerPrincipalId\n'), /module vault is given a principalId other than identity.outputs.principalId/);
    });
    it('fails on a new role assignment anywhere, e.g. a second one in the Key Vault module', () => {
      const extra = '\nresource officer \'Microsoft.Authorization/roleAssignments@2022-04-01\' = {\n  name: guid(vault.id, principalId, \'officer\')\n  scope: vault\n  properties: {\n    roleDefinitionId: subscriptionResourceId(\'Microsoft.Authorization/roleDefinitions\', \'b86a8fe4-44ce-4948-aee5-eccb2c155cd7\')\n    principalId: principalId\n    principalType: \'ServicePrincipal\'\n  }\n}\n';
      problemsMatching(mutate('infra/modules/keyvault.bicep', /\noutput name/, `${extra}\noutput name`), /role assignment officer: grants role b86a8fe4-44ce-4948-aee5-eccb2c155cd7, which is not in the allowed list/);
    });
    it('fails when Key Vault Secrets User is granted without the Key Vault references that justify it', () => {
      problemsMatching(mutate('infra/modules/functionapp.bicep', /\n\s*keyVaultReferenceIdentity: identityId/, ''), /Key Vault Secrets User is granted, but no app setting is a Key Vault reference resolved with the app's identity/);
    });
  });

  describe('queues, events, wiring', () => {
    it('fails when a queue the code uses is not created', () => {
      problemsMatching(mutate('infra/main.bicep', '\'scan-shards-poison\'', '\'scan-shards-dead\''), /queue scan-shards-poison: used by the code but not created/);
    });
    it('fails when the Event Grid filter misses an operation the router handles, or delivers one it ignores', () => {
      problemsMatching(mutate('infra/modules/changeevents.bicep', /\n\s*'Microsoft\.Authorization\/roleAssignments\/delete'/, ''), /event filter: Microsoft.Authorization\/roleAssignments\/delete is routed by src\/events\/route.ts but not delivered/);
      problemsMatching(mutate('infra/modules/changeevents.bicep', '\'Microsoft.CognitiveServices/accounts/write\'', '\'Microsoft.CognitiveServices/accounts/write\'\n            \'Microsoft.Compute/virtualMachines/write\''), /event filter: microsoft.compute\/virtualmachines\/write is delivered .* but src\/events\/route.ts ignores it/);
    });
    it('fails when a module is given a parameter it does not declare, or an output that does not exist is used', () => {
      problemsMatching(mutate('infra/main.bicep', 'maximumInstanceCount: maximumInstanceCount', 'maximumInstanceCount: maximumInstanceCount\n    alwaysReady: 1'), /module functionApp passes alwaysReady, which infra\/modules\/functionapp.bicep does not declare/);
      problemsMatching(mutate('infra/main.bicep', 'storage.outputs.queueEndpoint', 'storage.outputs.queueUrl'), /storage.outputs.queueUrl: infra\/modules\/storage.bicep has no output queueUrl/);
    });
    it('fails on a name that is not declared and on Bicep it cannot read', () => {
      problemsMatching(mutate('infra/main.bicep', 'SCAN_SCHEDULE: scanSchedule', 'SCAN_SCHEDULE: scanSchedul'), /infra\/main.bicep:\d+: scanSchedul is not declared/);
      problemsMatching(mutate('infra/modules/identity.bicep', 'location: location', 'location: ]'), /syntax: infra\/modules\/identity.bicep:\d+: expected an expression/);
      assert.throws(() => parseBicep('func f() string => \'x\'\n', 'x.bicep'), BicepSyntaxError);
    });
    it('fails when the parameters file names a parameter main.bicep does not declare', () => {
      problemsMatching(mutate('infra/main.parameters.json', '"location": {', '"region": { "value": "x" },\n    "location": {'), /infra\/main.parameters.json sets region, which infra\/main.bicep does not declare/);
    });
    it('fails when azure.yaml would build on the server or runs a hook that does not exist', () => {
      problemsMatching(mutate('azure.yaml', 'remoteBuild: false', 'remoteBuild: true'), /must set remoteBuild: false/);
      problemsMatching(mutate('azure.yaml', 'run: infra/hooks/postdown.sh', 'run: infra/hooks/after-down.sh'), /hook postdown \(posix\) runs infra\/hooks\/after-down.sh, which does not exist/);
    });
  });

  it('npm run infra:check prints the problems and exits 1 on drift', async () => {
    const clean = await runNode(ENTRY.infraCheck, []);
    assert.equal(clean.code, 0, clean.output);
    assert.match(clean.stdout, /infra\/ agrees with the code/);
    const dir = mkdtempSync(join(tmpdir(), 'infra-'));
    try {
      cpSync(join(root, 'infra'), join(dir, 'infra'), { recursive: true });
      cpSync(join(root, 'azure.yaml'), join(dir, 'azure.yaml'));
      cpSync(join(root, 'functions'), join(dir, 'functions'), { recursive: true });
      const main = join(dir, 'infra', 'main.bicep');
      writeFileSync(main, readFileSync(main, 'utf8').replace(/\n {2}POLICY_BLOB: policyBlob/, ''));
      const run = await runNode(ENTRY.infraCheck, ['--root', dir]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /infra drift: setting POLICY_BLOB: read by the code/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
