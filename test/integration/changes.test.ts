import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { AlertLedger, BlobKeyValueStore } from '../../src/alerts/ledger.js';
import { alertOnScan } from '../../src/alerts/scanAlerts.js';
import type { WebhookConfig } from '../../src/config/alerts.js';
import { parsePolicyText } from '../../src/config/policy.js';
import type { Finding } from '../../src/domain/rule.js';
import { rerenderReports } from '../../src/reports/rerender.js';
import { BlobStore, DirectoryStore } from '../../src/store/stores.js';
import type { ScanResult } from '../../src/scan.js';
import { useAzurite } from '../helpers/azurite.js';
import { finding, sampleTenant, scanSimulator, SUB_DEV, SUB_PROD, withSimulator } from '../helpers/sample.js';
import { startReceiver } from '../../src/simulator/receiver.js';
import type { SimulatorTenant } from '../../src/simulator/server.js';

/**
 * One diff (README "What changed since the previous scan"): for the same two scans, the HTML
 * report's "new / resolved since the previous scan" and the webhook digest's counts are the same
 * numbers, over a second scan that holds every case the rule names.
 */

const POLICY = parsePolicyText(
  `exemptions:
  - name: foundry-keys
    rules: [AUTH-01]
    target: { resourceId: /subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts/aisvc-foundry-prod }
    category: Mitigated
    justification: Keys are rotated by the platform team.
`,
  'test policy',
);

function account(tenant: SimulatorTenant, name: string): Record<string, unknown> {
  const row = tenant.resources.find((r) => r.name === name);
  if (!row) throw new Error(`no account ${name} in the sample tenant`);
  return row;
}

function properties(tenant: SimulatorTenant, name: string): Record<string, unknown> {
  return account(tenant, name).properties as Record<string, unknown>;
}

/**
 * The sample tenant without aisvc-foundry-prod's one data role, which is on a storage account of
 * the dev subscription: once that subscription is unreadable the assignment is not seen and ID-02
 * of a production account changes, which is none of the cases here.
 */
async function baseTenant(): Promise<SimulatorTenant> {
  const tenant = await sampleTenant();
  const i = tenant.authorizationresources.findIndex((r) => r.name === '00000004-aaaa-4bbb-8ccc-dddddddddddd');
  assert.ok(i >= 0);
  tenant.authorizationresources.splice(i, 1);
  return tenant;
}

/** The base tenant changed by one case each (the numbers are the cases of the test's title). */
async function changedTenant(): Promise<SimulatorTenant> {
  const tenant = await baseTenant();
  // (1) face-kiosk-prod's NET-01..04 fail → unknown: its networkAcls row becomes unreadable.
  (properties(tenant, 'face-kiosk-prod').networkAcls as Record<string, unknown>).ipRules = '203.0.113.9';
  // (2) every account of the dev subscription: the subscription becomes unreadable.
  tenant.forbiddenSubscriptions.push(SUB_DEV);
  // (3) oai-legacy-prod's AUTH-01 fail → pass.
  properties(tenant, 'oai-legacy-prod').disableLocalAuth = true;
  // (4) a new account whose one fail is NET-08.
  const source = account(tenant, 'cog-translator-prod');
  tenant.resources.push({
    ...source,
    id: String(source.id).replace(/cog-translator-prod$/, 'cog-translator-new'),
    name: 'cog-translator-new',
    properties: { ...properties(tenant, 'cog-translator-prod'), customSubDomainName: 'cog-translator-new', publicNetworkAccess: 'Disabled', disableLocalAuth: true },
  });
  // (5) oai-chat-prod's AUTH-01 pass → fail.
  properties(tenant, 'oai-chat-prod').disableLocalAuth = false;
  // (6) oai-pe-pending (readable production subscription) is deleted.
  tenant.resources.splice(tenant.resources.indexOf(account(tenant, 'oai-pe-pending')), 1);
  // (7) aisvc-foundry-prod's AUTH-01 pass → fail, exempted by the policy.
  properties(tenant, 'aisvc-foundry-prod').disableLocalAuth = false;
  return tenant;
}

const pairs = (findings: readonly Finding[], pick: (f: Finding) => boolean) =>
  findings.filter(pick).map((f) => `${f.accountName} ${f.ruleId}`).sort();

describe('one diff for reports and alerts', () => {
  const azurite = useAzurite();

  it('the HTML report and the digest count the same new and resolved fails', async () => {
    const receiver = await startReceiver();
    try {
      const container = azurite.container('changes');
      const blob = new BlobStore(container);
      const ledger = new AlertLedger(new BlobKeyValueStore(container));
      const hook: WebhookConfig = { name: 'ALL', format: 'cloudevents', url: new URL(receiver.url), secret: `whsec_${randomBytes(32).toString('base64')}`, minSeverity: 'low', allowPrivateDestinations: true };
      const dirs = [await mkdtemp(join(tmpdir(), 'pa-changes-1-')), await mkdtemp(join(tmpdir(), 'pa-changes-2-'))];
      const results: ScanResult[] = [];
      for (const [i, tenant] of [await baseTenant(), await changedTenant()].entries()) {
        const at = new Date(Date.UTC(2026, 10, 21, 3, 0, i));
        results.push(
          await withSimulator({ tenant }, (sim) =>
            scanSimulator(sim, {
              policy: POLICY,
              stores: [blob, new DirectoryStore(dirs[i] ?? '')],
              now: () => at,
              formats: ['html'],
              afterCommit: ({ scan, previous, current }) => alertOnScan({ scan, previous, current, webhooks: [hook], ledger }),
            }),
          ),
        );
      }
      const [first, second] = results.map((r) => r.findings);
      assert.ok(first && second);

      // The second scan holds each case.
      const outcome = (findings: readonly Finding[], name: string, rule: string) => finding(findings, name, rule).outcome;
      for (const rule of ['NET-01', 'NET-02', 'NET-03', 'NET-04']) {
        assert.deepEqual([outcome(first, 'face-kiosk-prod', rule), outcome(second, 'face-kiosk-prod', rule)], ['fail', 'unknown'], `(1) ${rule}`);
      }
      assert.deepEqual(results[1]?.scan.coverage.subscriptions.find((s) => s.id === SUB_DEV)?.status, 'unreadable', '(2)');
      assert.ok(pairs(first, (f) => f.subscriptionId === SUB_DEV && f.outcome === 'fail').length > 0, '(2) the dev subscription had fails');
      assert.deepEqual([outcome(first, 'oai-legacy-prod', 'AUTH-01'), outcome(second, 'oai-legacy-prod', 'AUTH-01')], ['fail', 'pass'], '(3)');
      assert.deepEqual(pairs(second, (f) => f.accountName === 'cog-translator-new' && f.outcome === 'fail'), ['cog-translator-new NET-08'], '(4)');
      assert.deepEqual([outcome(first, 'oai-chat-prod', 'AUTH-01'), outcome(second, 'oai-chat-prod', 'AUTH-01')], ['pass', 'fail'], '(5)');
      assert.deepEqual(pairs(first, (f) => f.accountName === 'oai-pe-pending' && f.outcome === 'fail'), ['oai-pe-pending NET-06', 'oai-pe-pending NSP-01'], '(6)');
      assert.deepEqual(pairs(second, (f) => f.accountName === 'oai-pe-pending'), [], '(6) gone');
      const foundry = finding(second, 'aisvc-foundry-prod', 'AUTH-01');
      assert.deepEqual([outcome(first, 'aisvc-foundry-prod', 'AUTH-01'), foundry.outcome, foundry.exemption?.name], ['pass', 'fail', 'foundry-keys'], '(7)');

      // The digest: (4) opened, (5) regressed, (3) and (6) resolved; (1), (2) and (7) are no transition.
      assert.equal(receiver.requests.length, 2, 'one digest per scan');
      const digest = JSON.parse(receiver.requests[1]?.body ?? '{}') as {
        data: { counts: { opened: number; regressed: number; resolved: number }; items: Array<{ kind: string; accountName: string; ruleId: string }> };
      };
      assert.deepEqual(digest.data.counts, { opened: 1, regressed: 1, resolved: 3 });
      assert.deepEqual(digest.data.items.map((t) => `${t.kind} ${t.accountName} ${t.ruleId}`).sort(), [
        'opened cog-translator-new NET-08',
        'regressed oai-chat-prod AUTH-01',
        'resolved oai-legacy-prod AUTH-01',
        'resolved oai-pe-pending NET-06',
        'resolved oai-pe-pending NSP-01',
      ]);

      // The report the scan wrote, and the one `report --previous` renders again: new = opened + regressed.
      const again = await mkdtemp(join(tmpdir(), 'pa-changes-again-'));
      await rerenderReports({ scanDir: dirs[1] ?? '', previousDir: dirs[0], formats: ['html'], outDir: again });
      for (const html of [await readFile(join(dirs[1] ?? '', 'report.html'), 'utf8'), await readFile(join(again, 'report.html'), 'utf8')]) {
        const counted = {
          new: Number(/New since previous scan: (\d+)</.exec(html)?.[1]),
          resolved: Number(/Resolved since previous scan: (\d+)</.exec(html)?.[1]),
        };
        assert.deepEqual(counted, { new: digest.data.counts.opened + digest.data.counts.regressed, resolved: digest.data.counts.resolved });
        assert.deepEqual(counted, { new: 2, resolved: 3 });
        const resolvedSection = html.slice(html.indexOf('Resolved since previous scan'), html.indexOf('id="chart"'));
        assert.doesNotMatch(resolvedSection, /face-kiosk-prod|aisvc-dev-|oai-dev-/, 'a fail turned unknown, or in an unreadable subscription, is not resolved');
        const newSection = html.slice(html.indexOf('New since previous scan'), html.indexOf('Resolved since previous scan'));
        assert.doesNotMatch(newSection, /aisvc-foundry-prod/, 'an exempted fail is not new');
      }
    } finally {
      await receiver.close();
    }
  });
});
