import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient } from '@azure/storage-blob';
import { loadSettings, SettingsError } from '../../src/config/settings.js';
import { withSimulator } from '../helpers/sample.js';
import { type Azurite, startAzurite } from '../simulator/azurite.js';

const ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'invokeScheduledScan.js');

function invoke(
  env: Record<string, string>,
): Promise<{ code: number | null; logs: Array<{ level: string; message: string }>; stderr: string }> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(SCAN_|AUDIT_|ARM_|DEEP_|AZURE_CLOUD)/.test(k)),
    );
    const child = spawn(process.execPath, [ENTRY], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      resolve({
        code,
        stderr,
        logs: out
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { level: string; message: string }),
      }),
    );
  });
}

describe('scheduledScan function', () => {
  let azurite: Azurite;
  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite.stop();
  });

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
      const summary = run.logs.find((l) => /^scan \S+ partial: 16 account\(s\)/.test(l.message));
      assert.ok(summary, JSON.stringify(run.logs));
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
        'scheduled',
      );
      const latest = JSON.parse((await container.getBlobClient('latest.json').downloadToBuffer()).toString()) as {
        scanId: string;
      };
      assert.ok(summary.message.includes(latest.scanId));
      const scan = JSON.parse(
        (await container.getBlobClient(`scans/${latest.scanId}/scan.json`).downloadToBuffer()).toString(),
      );
      assert.equal(scan.scope.deepInspection, false);
      assert.equal(sim.stats.armRequests, 0);
      assert.doesNotMatch(
        JSON.stringify(run.logs),
        /AccountKey=|perimeter-auditor-development-token/,
        'no secret in logs',
      );
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
      SCAN_SUBSCRIPTIONS: 'a, b,,',
    });
    assert.deepEqual(s.SCAN_SUBSCRIPTIONS, ['a', 'b']);
    assert.equal(s.SCAN_SCHEDULE, '0 0 */6 * * *');
    assert.equal(s.DEEP_INSPECTION, true);
    assert.equal(s.AUDIT_CONTAINER, 'audit');
  });
});
