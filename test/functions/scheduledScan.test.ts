import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { loadSettings, SettingsError } from '../../src/config/settings.js';
import { ScanLock } from '../../src/store/scanLock.js';
import { Webhook } from 'standardwebhooks';
import { invokeFunction } from '../helpers/invoke.js';
import { startReceiver } from '../../src/simulator/receiver.js';
import { SUB_DEV, SUB_PROD, withSimulator } from '../helpers/sample.js';
import { useAzurite } from '../helpers/azurite.js';

const invoke = (env: Record<string, string>) => invokeFunction('scheduledScan', env);

describe('scheduledScan function', () => {
  const azurite = useAzurite();

  it('scans with the configured settings and commits the scan to Blob', async () => {
    await withSimulator({}, async (sim) => {
      const run = await invoke({
        NODE_EXTRA_CA_CERTS: sim.caFile,
        ARM_ENDPOINT: sim.url,
        AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AUDIT_CONTAINER: 'scheduled',
        DEEP_INSPECTION: 'false',
      });
      assert.equal(run.code, 0, JSON.stringify(run.logs) + run.stderr);
      const summary = run.logs.find((l) => /^scan \S+ partial: [\d.]+% compliant \(\d+ of 19 accounts read\); coverage: 19 accounts read in 2 of 3 subscriptions in scope; 1 subscription unreadable/.test(l.message));
      assert.ok(summary, JSON.stringify(run.logs));
      const container = azurite.container('scheduled',
      );
      const latest = JSON.parse((await container.getBlobClient('latest.json').downloadToBuffer()).toString()) as {
        scanId: string;
      };
      assert.ok(summary.message.includes(latest.scanId));
      const scan = JSON.parse(
        (await container.getBlobClient(`scans/${latest.scanId}/scan.json`).downloadToBuffer()).toString(),
      );
      assert.equal(scan.scope.deepInspection, false);
      // Deep inspection off: the only ARM read is the sample's one Cosmos DB account's sqlRoleAssignments.
      assert.equal(sim.stats.armRequests, 1);
      assert.doesNotMatch(
        JSON.stringify(run.logs),
        /AccountKey=|perimeter-auditor-development-token/,
        'no secret in logs',
      );
    });
  });

  it('sends a signed digest to the webhooks configured in settings', async () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const receiver = await startReceiver();
    try {
      await withSimulator({}, async (sim) => {
        const run = await invoke({
          NODE_EXTRA_CA_CERTS: sim.caFile,
          ARM_ENDPOINT: sim.url,
          AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
          AUDIT_CONTAINER: 'alerting',
          ALERT_WEBHOOKS: JSON.stringify([{ name: 'SIEM', format: 'cloudevents', allowPrivateDestinations: true }]),
          ALERT_WEBHOOK_SIEM_URL: `${receiver.url}/hook`,
          ALERT_WEBHOOK_SIEM_SECRET: secret,
          REPORT_BASE_URL: 'https://auditor.example.com/api',
        });
        assert.equal(run.code, 0, JSON.stringify(run.logs));
        assert.doesNotMatch(JSON.stringify(run.logs), new RegExp(`${secret.slice(6, 20)}|${receiver.url}`), 'neither secret nor URL in logs');
      });
      assert.equal(receiver.requests.length, 1);
      const got = receiver.requests[0];
      assert.ok(got);
      const headers = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, String(v)]));
      const event = new Webhook(secret).verify(got.body, headers) as { type: string; data: { counts: { opened: number }; report: string } };
      assert.equal(event.type, 'perimeterauditor.findings.digest');
      assert.ok(event.data.counts.opened > 0);
      assert.match(event.data.report, /^https:\/\/auditor\.example\.com\/api\/scans\/.+\/report\?format=html$/);
    } finally {
      await receiver.close();
    }
  });

  it('fails fast, naming the setting, when webhook settings are invalid', async () => {
    const run = await invoke({
      ARM_ENDPOINT: 'https://127.0.0.1:9',
      AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
      AUDIT_CONTAINER: 'badalerts',
      ALERT_WEBHOOKS: JSON.stringify([{ name: 'SIEM', format: 'cloudevents' }]),
      ALERT_WEBHOOK_SIEM_URL: 'http://siem.example.com/hook',
      ALERT_WEBHOOK_SIEM_SECRET: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
    });
    assert.equal(run.code, 1);
    assert.match(run.logs.at(-1)?.message ?? '', /ALERT_WEBHOOK_SIEM_URL: webhooks must use https/);
  });

  it('takes its policy from the POLICY setting, or from the blob POLICY_BLOB names', async () => {
    const container = azurite.container('policies');
    await container.createIfNotExists();
    const text = `scope:\n  include:\n    subscriptions: [${SUB_DEV}]\n`;
    await container.getBlockBlobClient('config/policy.yaml').upload(text, text.length);
    await withSimulator({}, async (sim) => {
      const base = { NODE_EXTRA_CA_CERTS: sim.caFile, ARM_ENDPOINT: sim.url, AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString, AUDIT_CONTAINER: 'policies' };
      for (const env of [{ ...base, POLICY: text }, { ...base, POLICY_BLOB: 'config/policy.yaml' }]) {
        const run = await invoke(env);
        assert.equal(run.code, 0, JSON.stringify(run.logs));
        assert.ok(run.logs.some((l) => /coverage: 8 accounts read in 1 of 1 subscription in scope/.test(l.message)), 'only the dev subscription was scanned');
      }
      const bad = await invoke({ ...base, POLICY: 'rules:\n  NET-07: { enabled: sometimes }\n' });
      assert.equal(bad.code, 1);
      assert.match(bad.logs.at(-1)?.message ?? '', /setting POLICY: rules\.NET-07\.enabled \(line 2\)/);
      const missing = await invoke({ ...base, POLICY_BLOB: 'config/nope.yaml' });
      assert.match(missing.logs.at(-1)?.message ?? '', /blob config\/nope\.yaml \(setting POLICY_BLOB\) does not exist/);
    });
  });

  it('fails the invocation with a clear reason when the scan cannot run', async () => {
    await withSimulator(
      { fault: () => ({ status: 403, body: { error: { code: 'AuthorizationFailed', message: 'denied' } } }) },
      async (sim) => {
        const run = await invoke({
          NODE_EXTRA_CA_CERTS: sim.caFile,
          ARM_ENDPOINT: sim.url,
          AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
        });
        assert.equal(run.code, 1);
        assert.match(run.logs.at(-1)?.message ?? '', /cannot list subscriptions: HTTP 403/);
      },
    );
  });

  it('validates settings, naming the setting and never echoing a value', () => {
    assert.throws(
      () => loadSettings({}),
      (e: Error) => e instanceof SettingsError && /AUDIT_STORAGE_ACCOUNT_URL/.test(e.message),
    );
    assert.throws(
      () => loadSettings({ AUDIT_STORAGE_CONNECTION_STRING: 'x', ARM_ENDPOINT: 'http://secret-host.example' }),
      (e: Error) => /ARM_ENDPOINT/.test(e.message) && !e.message.includes('secret-host'),
    );
    assert.throws(
      () => loadSettings({ AUDIT_STORAGE_CONNECTION_STRING: 'x', DEEP_INSPECTION: 'maybe' }),
      /DEEP_INSPECTION/,
    );
    const s = loadSettings({
      AUDIT_STORAGE_ACCOUNT_URL: 'https://st.blob.core.windows.net',
      SCAN_SUBSCRIPTIONS: `${SUB_DEV}, /subscriptions/${SUB_PROD},,`,
    });
    assert.deepEqual(s.SCAN_SUBSCRIPTIONS, [SUB_DEV, SUB_PROD], 'GUIDs, with or without /subscriptions/');
    assert.throws(() => loadSettings({ AUDIT_STORAGE_ACCOUNT_URL: 'https://st.blob.core.windows.net', SCAN_SUBSCRIPTIONS: 'sub-a' }), /SCAN_SUBSCRIPTIONS\.0: not a subscription ID/);
    assert.throws(
      () => loadSettings({ AUDIT_STORAGE_ACCOUNT_URL: 'https://st.blob.core.windows.net', ARM_ENDPOINT: 'https://user:s3cr3t@127.0.0.1:9' }),
      (e: Error) => /ARM_ENDPOINT: must not carry credentials/.test(e.message) && !e.message.includes('s3cr3t'),
    );
    assert.equal(s.SCAN_SCHEDULE, '0 0 */6 * * *');
    assert.equal(s.DEEP_INSPECTION, true);
    assert.equal(s.AUDIT_CONTAINER, 'audit');
  });
});

describe('scheduledScan and the scan lock', () => {
  const azurite = useAzurite();
  it('skips, with a logged reason, while another scan holds the lock', async () => {
    const container = azurite.container('locked');
    const lock = new ScanLock(container);
    assert.equal((await lock.acquire('2026-11-21T03-00-00Z-runnin', 'http')).acquired, true);
    const run = await invokeFunction('scheduledScan', {
      ARM_ENDPOINT: 'https://127.0.0.1:9',
      AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
      AUDIT_CONTAINER: 'locked',
    });
    assert.equal(run.code, 0, JSON.stringify(run.logs));
    assert.ok(run.logs.some((l) => /skipped: scan 2026-11-21T03-00-00Z-runnin \(http\)/.test(l.message)), JSON.stringify(run.logs));
    assert.equal(await container.getBlobClient('latest.json').exists(), false);
  });

  it('replaces a holder whose lease of time has expired, and never two live holders', async () => {
    const container = azurite.container('expiry');
    let now = new Date('2026-11-21T03:00:00Z');
    const lock = new ScanLock(container, 60_000, () => now);
    assert.equal((await lock.acquire('2026-11-21T03-00-00Z-aaaaaa', 'scheduled')).acquired, true);
    const [a, b] = await Promise.all([lock.acquire('2026-11-21T03-00-10Z-bbbbbb', 'http'), lock.acquire('2026-11-21T03-00-10Z-cccccc', 'http')]);
    assert.equal(a.acquired || b.acquired, false, 'a live holder keeps the lock');
    now = new Date('2026-11-21T03:02:00Z');
    const [c, d] = await Promise.all([lock.acquire('2026-11-21T03-02-00Z-dddddd', 'http'), lock.acquire('2026-11-21T03-02-00Z-eeeeee', 'http')]);
    assert.equal(Number(c.acquired) + Number(d.acquired), 1, 'exactly one replaces the expired holder');
    const holder = await lock.holder();
    await lock.release('2026-11-21T03-00-00Z-aaaaaa');
    assert.deepEqual(await lock.holder(), holder, 'a former holder cannot release the new one');
  });
});
