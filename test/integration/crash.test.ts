import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { FAULT_VARIABLE } from '../../src/testing/faults.js';
import { useAzurite } from '../helpers/azurite.js';
import { withSimulator } from '../helpers/sample.js';
import { type NodeRun, runCli } from '../helpers/spawn.js';

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

/** The scan ID a CLI run announced on stderr (`scan <id> started`). */
function scanIdOf(run: NodeRun): string {
  const id = /scan (\S+) started/.exec(run.stderr)?.[1];
  assert.ok(id, `the run announced its scan: ${run.output}`);
  return id;
}

async function filesOf(container: ContainerClient, scanId: string): Promise<string[]> {
  const names: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix: `scans/${scanId}/` })) names.push(b.name.slice(`scans/${scanId}/`.length));
  return names;
}

describe('crash safety', () => {
  const azurite = useAzurite();

  it('a scan killed with SIGKILL at each phase (collection, evaluation, each upload, before and after latest.json) leaves latest.json on a complete scan; the next scan succeeds', async ({ annotate }) => {
    const container = azurite.container('crash');
    await withSimulator({}, async (sim) => {
      const env = { NODE_EXTRA_CA_CERTS: sim.caFile };
      const out = await mkdtemp(join(tmpdir(), 'pa-crash-'));
      const args = ['scan', '--arm-endpoint', sim.url, '--output', out, '--blob-connection-string', azurite.connectionString, '--container', 'crash'];
      const first = await runCli(args, env);
      assert.equal(first.code, 1, `a complete first scan (high fails exist): ${first.output}`);
      const committed = await assertConsistent(container);
      assert.equal(committed, scanIdOf(first));
      // Every file of scans/{scanId}/ is one upload (the artifacts, then scan.json).
      const uploads = (await filesOf(container, committed)).length;
      assert.equal(uploads, 6, 'findings.ndjson, four reports, scan.json');

      const phases = ['collection', 'evaluation', ...Array.from({ length: uploads }, (_, i) => `upload:${i + 1}`), 'before-latest', 'after-latest'];
      let current = committed;
      const notes: string[] = [];
      for (const phase of phases) {
        const run = await runCli(args, { ...env, [FAULT_VARIABLE]: phase });
        assert.equal(run.signal, 'SIGKILL', `killed at ${phase}: ${run.output}`);
        const killedScan = scanIdOf(run);
        const now = await assertConsistent(container);
        assert.ok(now, `latest.json still points at a scan after ${phase}`);
        if (phase === 'after-latest') assert.equal(now, killedScan, 'killed after the commit point: the killed scan is the current one');
        else assert.equal(now, current, `killed at ${phase}: latest.json still on the previous scan`);
        const written = await filesOf(container, killedScan);
        if (phase.startsWith('upload:')) {
          const n = Number(phase.slice('upload:'.length));
          assert.equal(written.length, n, `${n} file(s) of the killed scan were written before it died`);
        }
        const pointer = now === killedScan ? 'the killed scan, committed before the kill' : 'the previous scan';
        notes.push(`killed at ${phase}: latest.json → ${now} (${pointer}); the killed scan's files in Blob: ${written.join(', ') || 'none'}`);
        current = now;
      }
      const final = await runCli(args, env);
      assert.equal(final.code, 1, final.output);
      assert.equal(await assertConsistent(container), scanIdOf(final), 'the next scan commits');
      notes.push(`next scan without a fault: latest.json → ${scanIdOf(final)}`);
      for (const note of notes) {
        process.stdout.write(`[crash] ${note}\n`);
        await annotate(note);
      }
    });
  });
});
