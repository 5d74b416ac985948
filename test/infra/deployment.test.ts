import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { bodyObject, evaluate, BicepEvaluationError, parseBicep, property } from '../../scripts/infra/bicep.js';
import { loadWebhooks } from '../../src/config/alerts.js';
import { loadSettings } from '../../src/config/settings.js';
import { ROOT as root } from '../helpers/paths.js';

/**
 * What a deployment of infra/main.bicep would give the app, computed from the Bicep text with
 * parameters as `azd env set` would pass them, then read by the code's own settings loaders. No Bicep
 * compiler runs here (docs/deploy.md); module outputs are stand-ins of the shapes Azure returns.
 */

const main = parseBicep(readFileSync(join(root, 'infra', 'main.bicep'), 'utf8'), 'infra/main.bicep');
const THIS_SUBSCRIPTION = '00000000-0000-0000-0000-0000000000aa';
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

const context = (params: Record<string, unknown>) => ({
  params: { environmentName: 'audit-prod', location: 'westeurope', ...params },
  symbols: {
    identity: { outputs: { clientId: CLIENT_ID, principalId: '99999999-2222-3333-4444-555555555555', id: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id' } },
    storage: { outputs: { name: 'stabc', blobEndpoint: 'https://stabc.blob.core.windows.net/', queueEndpoint: 'https://stabc.queue.core.windows.net/' } },
    monitoring: { outputs: { connectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/' } },
    functionApp: { outputs: { name: 'func-auditor-abc', defaultHostName: 'func-auditor-abc.azurewebsites.net', id: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/func-auditor-abc' } },
  },
  functions: {
    subscription: { subscriptionId: THIS_SUBSCRIPTION, id: `/subscriptions/${THIS_SUBSCRIPTION}`, tenantId: '00000000-0000-0000-0000-0000000000bb' },
    environment: { name: 'AzureCloud' },
    uniqueString: 'abcdefghijklm',
  },
});

/** The app settings main.bicep deploys for these parameters. */
function deployedSettings(params: Record<string, unknown>): Record<string, string> {
  const call = main.declarations.find((d) => d.k === 'module' && d.path === 'modules/appsettings.bicep');
  assert.ok(call?.k === 'module');
  const arg = property(property(bodyObject(call.value), 'params'), 'settings');
  assert.ok(arg);
  const value = evaluate(main, arg, context(params));
  assert.ok(typeof value === 'object' && value !== null);
  for (const [k, v] of Object.entries(value)) assert.equal(typeof v, 'string', `${k} is a string`);
  return value as Record<string, string>;
}

function evaluated(name: string, params: Record<string, unknown>): unknown {
  const d = main.declarations.find((x) => x.k === 'var' && x.name === name);
  assert.ok(d?.k === 'var', name);
  return evaluate(main, d.value, context(params));
}

/** The platform resolves Key Vault references; here a reference becomes the secret it names. */
function resolveReferences(settings: Record<string, string>, secrets: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => {
    const m = /^@Microsoft\.KeyVault\(VaultName=([^;]+);SecretName=([^)]+)\)$/.exec(v);
    if (!m) return [k, v];
    assert.match(m[2]!, /^[0-9a-zA-Z-]{1,127}$/, `a valid Key Vault secret name: ${m[2]}`);
    assert.equal(m[1], 'kv-abcdefghijklm');
    const secret = secrets[m[2]!];
    assert.ok(secret !== undefined, `secret ${m[2]} is named in docs/deploy.md's commands`);
    return [k, secret];
  }));
}

describe('the settings a deployment gives the app', () => {
  it('defaults (no parameters set): accepted by the code, this subscription scanned every 6 hours, identity-based storage', () => {
    const s = deployedSettings({});
    const settings = loadSettings(s);
    assert.deepEqual(settings.SCAN_SUBSCRIPTIONS, [THIS_SUBSCRIPTION]);
    assert.deepEqual(settings.SCAN_MANAGEMENT_GROUPS, []);
    assert.equal(settings.SCAN_SCHEDULE, '0 0 */6 * * *');
    assert.equal(settings.AZURE_CLIENT_ID, CLIENT_ID);
    assert.equal(settings.AUDIT_STORAGE_ACCOUNT_URL, 'https://stabc.blob.core.windows.net/');
    assert.equal(settings.AUDIT_STORAGE_CONNECTION_STRING, undefined);
    assert.equal(settings.REPORT_BASE_URL, 'https://func-auditor-abc.azurewebsites.net/api');
    assert.equal(s.AzureWebJobsStorage__credential, 'managedidentity');
    assert.equal(s.AzureWebJobsStorage__clientId, CLIENT_ID);
    assert.deepEqual(loadWebhooks(s), []);
    assert.ok(!Object.values(s).some((v) => /AccountKey=|SharedAccessSignature=/i.test(v)), 'no storage keys in settings');
  });

  it('subscriptions and management groups from comma-separated parameters, blanks and spaces ignored', () => {
    const [a, b] = ['6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f', '8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d'];
    const s = loadSettings(deployedSettings({ auditedSubscriptionIds: ` ${a} , ${b} ,`, auditedManagementGroups: 'mg-prod,, mg-dev ' }));
    assert.deepEqual(s.SCAN_SUBSCRIPTIONS, [a, b]);
    // A subscription that is not a GUID is refused when the app starts, naming the setting.
    assert.throws(() => loadSettings(deployedSettings({ auditedSubscriptionIds: 'sub-a' })), /SCAN_SUBSCRIPTIONS\.0: not a subscription ID/);
    assert.deepEqual(s.SCAN_MANAGEMENT_GROUPS, ['mg-prod', 'mg-dev']);
    // Management groups only: no subscription is added, Reader comes from the hook.
    const mgOnly = loadSettings(deployedSettings({ auditedManagementGroups: 'mg-prod' }));
    assert.deepEqual(mgOnly.SCAN_SUBSCRIPTIONS, []);
    assert.deepEqual(evaluated('auditedSubscriptions', { auditedManagementGroups: 'mg-prod' }), []);
    // Event Grid topics: the audited subscriptions unless listed.
    assert.deepEqual(evaluated('eventSubscriptions', { auditedSubscriptionIds: 'sub-a,sub-b' }), ['sub-a', 'sub-b']);
    assert.deepEqual(evaluated('eventSubscriptions', { auditedManagementGroups: 'mg', eventSubscriptionIds: 'sub-c' }), ['sub-c']);
  });

  it('webhooks: NAME:format[:minSeverity] becomes ALERT_WEBHOOKS and two Key Vault references each, which the code accepts', () => {
    const s = deployedSettings({ alertWebhooks: 'SECOPS:cloudevents, TEAMS_CHANNEL:teams:medium' });
    assert.equal(s.ALERT_WEBHOOK_SECOPS_URL, '@Microsoft.KeyVault(VaultName=kv-abcdefghijklm;SecretName=alert-webhook-secops-url)');
    assert.equal(s.ALERT_WEBHOOK_SECOPS_SECRET, '@Microsoft.KeyVault(VaultName=kv-abcdefghijklm;SecretName=alert-webhook-secops-secret)');
    assert.equal(s.ALERT_WEBHOOK_TEAMS_CHANNEL_URL, '@Microsoft.KeyVault(VaultName=kv-abcdefghijklm;SecretName=alert-webhook-teams-channel-url)');
    // Teams and Slack are not signed: no secret reference that could stay unresolved.
    assert.equal(s.ALERT_WEBHOOK_TEAMS_CHANNEL_SECRET, undefined);
    const resolved = resolveReferences(s, {
      'alert-webhook-secops-url': 'https://siem.example.com/hooks/perimeter',
      'alert-webhook-secops-secret': `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
      'alert-webhook-teams-channel-url': 'https://example.webhook.office.com/webhookb2/x',
    });
    const hooks = loadWebhooks(resolved, loadSettings(resolved).ALERT_MIN_SEVERITY);
    assert.deepEqual(hooks.map((h) => [h.name, h.format, h.minSeverity, h.url.hostname]), [
      ['SECOPS', 'cloudevents', 'high', 'siem.example.com'],
      ['TEAMS_CHANNEL', 'teams', 'medium', 'example.webhook.office.com'],
    ]);
    assert.ok(hooks.every((h) => !h.allowPrivateDestinations));
  });

  it('a webhook without a format fails the deployment (index out of range), not the app at run time', () => {
    assert.throws(() => deployedSettings({ alertWebhooks: 'SECOPS' }), BicepEvaluationError);
  });

  it('an unresolved Key Vault reference (the secret was not set) stops the app with the setting\'s name', () => {
    const s = deployedSettings({ alertWebhooks: 'SECOPS:cloudevents' });
    assert.throws(() => loadWebhooks(s), /invalid settings: ALERT_WEBHOOK_SECOPS_(SECRET: expected a Standard Webhooks secret|URL: not a URL)/);
    assert.throws(() => loadWebhooks({ ...s, ALERT_WEBHOOK_SECOPS_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}` }), /invalid settings: ALERT_WEBHOOK_SECOPS_URL: not a URL/);
  });

  it('a bad value reaches the app as a clear settings error naming the setting', () => {
    assert.throws(() => loadSettings(deployedSettings({ deepInspectionConcurrency: '500' })), /DEEP_INSPECTION_CONCURRENCY/);
  });
});

describe('azd hooks (infra/hooks/*.sh, run with a stand-in azd and az on PATH)', () => {
  function run(script: string, env: Record<string, string>): { status: number | null; calls: string[]; stderr: string } {
    const dir = mkdtempSync(join(tmpdir(), 'hooks-'));
    try {
      const log = join(dir, 'calls.log');
      writeFileSync(log, '');
      for (const tool of ['azd', 'az']) {
        writeFileSync(join(dir, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\n`);
        chmodSync(join(dir, tool), 0o755);
      }
      const r = spawnSync('sh', [join(root, 'infra', 'hooks', script)], { env: { PATH: `${dir}:/usr/bin:/bin`, ...env }, encoding: 'utf8' });
      return { status: r.status, calls: readFileSync(log, 'utf8').split('\n').filter(Boolean), stderr: r.stderr };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('postdeploy: the first deployment turns on the Event Grid subscriptions and provisions again; later ones do nothing', () => {
    const first = run('postdeploy.sh', {});
    assert.equal(first.status, 0);
    assert.deepEqual(first.calls, ['azd env set DEPLOY_EVENT_SUBSCRIPTIONS true', 'azd provision --no-prompt']);
    const later = run('postdeploy.sh', { DEPLOY_EVENT_SUBSCRIPTIONS: 'true' });
    assert.equal(later.status, 0);
    assert.deepEqual(later.calls, []);
  });

  it('postdown: the next azd up creates the function before its subscriptions', () => {
    const r = run('postdown.sh', {});
    assert.equal(r.status, 0);
    assert.deepEqual(r.calls, ['azd env set DEPLOY_EVENT_SUBSCRIPTIONS false']);
  });

  it('postprovision: Reader on each management group through a management-group deployment; nothing without groups', () => {
    assert.deepEqual(run('postprovision.sh', { AUDITED_MANAGEMENT_GROUPS: '' }).calls, []);
    const r = run('postprovision.sh', { AUDITED_MANAGEMENT_GROUPS: 'mg-prod, mg-dev', AUDITOR_PRINCIPAL_ID: 'p-1', AZURE_LOCATION: 'westeurope', AZURE_ENV_NAME: 'prod' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.calls.length, 2);
    for (const [i, mg] of ['mg-prod', 'mg-dev'].entries()) {
      assert.match(r.calls[i]!, new RegExp(`^az deployment mg create --management-group-id ${mg} --location westeurope --name perimeter-auditor-reader-prod --template-file \\S+/infra/hooks/\\.\\./modules/readermanagementgroup\\.bicep --parameters principalId=p-1`));
    }
    const missing = run('postprovision.sh', { AUDITED_MANAGEMENT_GROUPS: 'mg-prod', AZURE_LOCATION: 'westeurope' });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /AUDITOR_PRINCIPAL_ID is not set/);
  });
});
