import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { compileTemplates, type Templates } from '../../scripts/infra/build.js';
import { REQUIRED_PARAMETERS } from '../../scripts/infra/check.js';
import { BicepSession } from '../../scripts/infra/rpc.js';
import {
  type Deployment, DeploymentError, evaluateDeployment, type Parameters, type PredictedResource, runtimeProperties,
  STAND_IN_SUBSCRIPTION, SUBSCRIPTION_DEPLOYMENT,
} from '../../scripts/infra/snapshot.js';
import { loadWebhooks } from '../../src/config/alerts.js';
import { loadSettings } from '../../src/config/settings.js';
import { ROOT as root } from '../helpers/paths.js';
import { found, needsCompiler } from './compiler.js';

/**
 * What a deployment of infra/main.bicep would give the app: the template compiled by the pinned Bicep
 * compiler, evaluated by its template engine (a deployment snapshot) with parameters as `azd env set` would
 * pass them, runtime values stood in (scripts/infra/snapshot.ts), then read by the code's own settings
 * loaders. No Azure subscription is involved: what Azure itself would refuse is for `azd provision --preview`.
 */

describe.skipIf(!found.bicep)(needsCompiler('the settings a deployment gives the app'), () => {
  let session: BicepSession;
  let templates: Templates;
  beforeAll(async () => {
    session = new BicepSession(found.bicep!);
    const compiled = await compileTemplates(root, session);
    assert.ok('templates' in compiled, 'errors' in compiled ? compiled.errors.join('\n') : '');
    templates = compiled.templates;
  });
  afterAll(async () => {
    await session.close();
  });

  const deploy = (params: Parameters): Promise<Deployment> =>
    evaluateDeployment(session, templates.main, { ...REQUIRED_PARAMETERS, ...params }, SUBSCRIPTION_DEPLOYMENT);
  const one = (d: Deployment, type: string): PredictedResource => {
    const found = d.resources.filter((r) => r.type === type);
    assert.equal(found.length, 1, type);
    return found[0]!;
  };

  /** The app settings the deployment gives the Function App. */
  function settingsOf(d: Deployment): Record<string, string> {
    const value = one(d, 'Microsoft.Web/sites/config').properties ?? {};
    for (const [k, v] of Object.entries(value)) assert.equal(typeof v, 'string', `${k} is a string`);
    return value as Record<string, string>;
  }

  /** Subscriptions with Reader, and with a system topic. */
  /** Subscriptions where Reader (acdd72a7…) is assigned; Log Analytics Reader is assigned beside it (checked by the drift check). */
  const readerOn = (d: Deployment): string[] => d.resources
    .filter((r) => r.type === 'Microsoft.Authorization/roleAssignments' && /^\/subscriptions\/[^/]+\/providers\//.test(r.id))
    .filter((r) => /acdd72a7-3385-48ef-bd42-f606fba81ae7$/i.test(String((r.properties as { roleDefinitionId?: unknown } | undefined)?.roleDefinitionId ?? '')))
    .map((r) => r.id.split('/')[2]!);
  const topicsIn = (d: Deployment): string[] => d.resources.filter((r) => r.type === 'Microsoft.EventGrid/systemTopics').map((r) => r.id.split('/')[2]!);

  /** The platform resolves Key Vault references; here a reference becomes the secret it names. */
  function resolveReferences(settings: Record<string, string>, vault: string, secrets: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(settings).map(([k, v]) => {
      const m = /^@Microsoft\.KeyVault\(VaultName=([^;]+);SecretName=([^)]+)\)$/.exec(v);
      if (!m) return [k, v];
      assert.match(m[2]!, /^[0-9a-zA-Z-]{1,127}$/, `a valid Key Vault secret name: ${m[2]}`);
      assert.equal(m[1], vault);
      const secret = secrets[m[2]!];
      assert.ok(secret !== undefined, `secret ${m[2]} is named in docs/deploy.md's commands`);
      return [k, secret];
    }));
  }

  it('defaults (no parameters set): accepted by the code, this subscription scanned every 6 hours, identity-based storage', async () => {
    const d = await deploy({});
    const s = settingsOf(d);
    const settings = loadSettings(s);
    const identity = runtimeProperties(one(d, 'Microsoft.ManagedIdentity/userAssignedIdentities').id);
    assert.deepEqual(settings.SCAN_SUBSCRIPTIONS, [STAND_IN_SUBSCRIPTION]);
    assert.deepEqual(readerOn(d), [STAND_IN_SUBSCRIPTION]);
    assert.deepEqual(topicsIn(d), [STAND_IN_SUBSCRIPTION]);
    assert.deepEqual(settings.SCAN_MANAGEMENT_GROUPS, []);
    assert.equal(settings.SCAN_SCHEDULE, '0 0 */6 * * *');
    assert.equal(settings.AZURE_CLIENT_ID, identity.clientId);
    assert.equal(settings.AUDIT_STORAGE_ACCOUNT_URL, `https://${one(d, 'Microsoft.Storage/storageAccounts').name}.blob.core.windows.net/`);
    assert.equal(settings.AUDIT_STORAGE_CONNECTION_STRING, undefined);
    assert.equal(settings.REPORT_BASE_URL, `https://${one(d, 'Microsoft.Web/sites').name}.azurewebsites.net/api`);
    assert.equal(settings.AZURE_CLOUD, 'AzureCloud');
    assert.equal(s.AzureWebJobsStorage__credential, 'managedidentity');
    assert.equal(s.AzureWebJobsStorage__clientId, identity.clientId);
    assert.deepEqual(loadWebhooks(s), []);
    assert.ok(!Object.values(s).some((v) => /AccountKey=|SharedAccessSignature=/i.test(v)), 'no storage keys in settings');
    // Before the hook turns them on, no event subscription (Event Grid needs the function to exist).
    assert.equal(d.resources.filter((r) => r.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions').length, 0);
    assert.equal(d.outputs.AUDITOR_PRINCIPAL_ID, identity.principalId);
  });

  it('subscriptions and management groups from comma-separated parameters, blanks and spaces ignored', async () => {
    const [a, b, c] = ['6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f', '8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d', '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e'];
    const both = await deploy({ auditedSubscriptionIds: ` ${a} , ${b} ,`, auditedManagementGroups: 'mg-prod,, mg-dev ' });
    const s = loadSettings(settingsOf(both));
    assert.deepEqual(s.SCAN_SUBSCRIPTIONS, [a, b]);
    assert.deepEqual(s.SCAN_MANAGEMENT_GROUPS, ['mg-prod', 'mg-dev']);
    assert.deepEqual(readerOn(both), [a, b]);
    assert.equal(both.outputs.AUDITED_MANAGEMENT_GROUPS, 'mg-prod,mg-dev');
    // Management groups only: no subscription is added, Reader comes from the hook.
    const mgOnly = await deploy({ auditedManagementGroups: 'mg-prod' });
    assert.deepEqual(loadSettings(settingsOf(mgOnly)).SCAN_SUBSCRIPTIONS, []);
    assert.deepEqual(readerOn(mgOnly), []);
    // Event Grid topics: the audited subscriptions unless listed.
    assert.deepEqual(topicsIn(both), [a, b]);
    assert.deepEqual(topicsIn(await deploy({ auditedManagementGroups: 'mg', eventSubscriptionIds: c })), [c]);
  });

  it('a subscription that is not a GUID fails the deployment (the template engine refuses the scope), before the app could', async () => {
    await assert.rejects(deploy({ auditedSubscriptionIds: 'sub-a' }), (err: Error) => err instanceof DeploymentError && /'sub-a' is not valid subscription identifier/.test(err.message));
  });

  it('webhooks: NAME:format[:minSeverity] becomes ALERT_WEBHOOKS and two Key Vault references each, which the code accepts', async () => {
    const d = await deploy({ alertWebhooks: 'SECOPS:cloudevents, TEAMS_CHANNEL:teams:medium' });
    const s = settingsOf(d);
    const vault = one(d, 'Microsoft.KeyVault/vaults').name;
    assert.equal(s.ALERT_WEBHOOK_SECOPS_URL, `@Microsoft.KeyVault(VaultName=${vault};SecretName=alert-webhook-secops-url)`);
    assert.equal(s.ALERT_WEBHOOK_SECOPS_SECRET, `@Microsoft.KeyVault(VaultName=${vault};SecretName=alert-webhook-secops-secret)`);
    assert.equal(s.ALERT_WEBHOOK_TEAMS_CHANNEL_URL, `@Microsoft.KeyVault(VaultName=${vault};SecretName=alert-webhook-teams-channel-url)`);
    // Teams and Slack are not signed: no secret reference that could stay unresolved.
    assert.equal(s.ALERT_WEBHOOK_TEAMS_CHANNEL_SECRET, undefined);
    const resolved = resolveReferences(s, vault, {
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

  it('a webhook without a format fails the deployment (index out of range), not the app at run time', async () => {
    await assert.rejects(deploy({ alertWebhooks: 'SECOPS' }), (err: Error) => err instanceof DeploymentError && /index '1' is out of bounds/.test(err.message));
  });

  it('an unresolved Key Vault reference (the secret was not set) stops the app with the setting\'s name', async () => {
    const s = settingsOf(await deploy({ alertWebhooks: 'SECOPS:cloudevents' }));
    assert.throws(() => loadWebhooks(s), /invalid settings: ALERT_WEBHOOK_SECOPS_(SECRET: expected a Standard Webhooks secret|URL: not a URL)/);
    assert.throws(() => loadWebhooks({ ...s, ALERT_WEBHOOK_SECOPS_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}` }), /invalid settings: ALERT_WEBHOOK_SECOPS_URL: not a URL/);
  });

  it('a bad value reaches the app as a clear settings error naming the setting', async () => {
    const s = settingsOf(await deploy({ deepInspectionConcurrency: '500' }));
    assert.throws(() => loadSettings(s), /DEEP_INSPECTION_CONCURRENCY/);
  });

  it('a value outside a parameter\'s allowed list fails the deployment', async () => {
    await assert.rejects(deploy({ alertMinSeverity: 'critical' }), DeploymentError);
  });

  it('the findings export: the app uploads through the Direct rule (its endpoint and immutable ID), which the code accepts; the workbook is on the same workspace', async () => {
    const d = await deploy({});
    const dcr = one(d, 'Microsoft.Insights/dataCollectionRules');
    const runtime = runtimeProperties(dcr.id) as { immutableId: string; endpoints: { logsIngestion: string } };
    const settings = loadSettings(settingsOf(d));
    assert.equal(settings.LOGS_INGESTION_ENDPOINT, runtime.endpoints.logsIngestion);
    assert.equal(settings.LOGS_DCR_IMMUTABLE_ID, runtime.immutableId);
    const workspace = one(d, 'Microsoft.OperationalInsights/workspaces').id;
    assert.deepEqual(d.resources.filter((r) => r.type === 'Microsoft.OperationalInsights/workspaces/tables').map((r) => r.id), [
      `${workspace}/tables/PerimeterAuditorFindings_CL`, `${workspace}/tables/PerimeterAuditorScans_CL`,
    ]);
    assert.equal((one(d, 'Microsoft.Insights/workbooks').properties as { sourceId?: string }).sourceId, workspace);
    assert.equal(d.outputs.AUDITOR_LOG_ANALYTICS_WORKSPACE_ID, workspace);
    assert.equal(d.resources.filter((r) => r.type === 'Microsoft.SecurityInsights/alertRules').length, 0, 'no Sentinel rule unless a workspace is named');
  });

  it('sentinelWorkspaceId: the scheduled rule is an extension of the workspace it names, in its own subscription and resource group', async () => {
    const named = '/subscriptions/6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f/resourceGroups/rg-soc/providers/Microsoft.OperationalInsights/workspaces/log-soc';
    const rule = one(await deploy({ sentinelWorkspaceId: named }), 'Microsoft.SecurityInsights/alertRules');
    assert.match(rule.id, new RegExp(`^${named}/providers/Microsoft\\.SecurityInsights/alertRules/[0-9a-f-]{36}$`));
    assert.equal(rule.kind, 'Scheduled');
    assert.equal((rule.properties as { query?: string }).query, readFileSync(join(root, 'infra', 'sentinel', 'new-high-fail.kql'), 'utf8'));
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
