import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { withSimulator } from '../helpers/sample.js';
import { type Azurite, startAzurite } from '../simulator/azurite.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'bin.js');

/** Runs a CLI scan to Blob; kills it with SIGKILL after `killAfterMs` unless it ends first. */
function scan(env: Record<string, string>, args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'scan', ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

async function text(container: ContainerClient, name: string): Promise<string> {
  return (await container.getBlobClient(name).downloadToBuffer()).toString('utf8');
}

/** latest.json, when present, points at a scan whose every file is there and parses. */
async function assertConsistent(container: ContainerClient): Promise<string | undefined> {
  if (!(await container.getBlobClient('latest.json').exists())) return undefined;
  const latest = JSON.parse(await text(container, 'latest.json')) as { scanId: string };
  const scanDoc = JSON.parse(await text(container, `scans/${latest.scanId}/scan.json`)) as ScanDocument;
  assert.equal(scanDoc.scanId, latest.scanId);
  const lines = (await text(container, `scans/${latest.scanId}/findings.ndjson`)).trimEnd().split('\n');
  assert.equal(lines.length, scanDoc.coverage.accounts * scanDoc.rules.length, 'findings complete');
  for (const l of lines) JSON.parse(l);
  for (const r of ['report.json', 'report.csv', 'report.sarif', 'report.html']) assert.ok(await container.getBlobClient(`scans/${latest.scanId}/${r}`).exists(), r);
  return latest.scanId;
}

describe('crash safety', () => {
  let azurite: Azurite;
  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite.stop();
  });

  it('a scan killed with SIGKILL at any point leaves latest.json on a complete scan; the next scan succeeds', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('crash');
    // Latency makes the scan take a few seconds, so kills land in collection, evaluation and the writes.
    await withSimulator({ latencyMs: 25 }, async (sim) => {
      const env = { NODE_EXTRA_CA_CERTS: sim.caFile };
      const out = await mkdtemp(join(tmpdir(), 'pa-crash-'));
      const args = ['--arm-endpoint', sim.url, '--output', out, '--blob-connection-string', azurite.connectionString, '--container', 'crash'];
      const first = await scan(env, args);
      assert.equal(first.code, 1, 'a complete first scan (high fails exist)');
      const committed = await assertConsistent(container);
      assert.ok(committed);
      let killed = 0;
      let last = committed;
      for (const ms of [150, 400, 700, 950, 1200, 1450, 1700, 2000]) {
        const run = await scan(env, args, ms);
        if (run.signal === 'SIGKILL') killed += 1;
        const now = await assertConsistent(container);
        assert.ok(now, 'latest.json still points at a scan');
        if (run.signal === 'SIGKILL') assert.ok(now === last || now > last, 'never an older or broken scan');
        last = now;
      }
      assert.ok(killed >= 4, `${killed} runs were killed mid-scan`);
      const final = await scan(env, args);
      assert.equal(final.code, 1);
      const after = await assertConsistent(container);
      assert.ok(after && after > last, 'the next scan commits');
    });
  });
});
