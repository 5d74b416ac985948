import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { DirectoryKeyValueStore } from '../../src/alerts/ledger.js';
import { DEVELOPMENT_TOKEN, developmentCredential } from '../../src/collect/clients.js';
import { createLogsUploader, ExportLedger, exportScan, type ExportRecord } from '../../src/export/logsExport.js';
import { EXPORT_TABLES, FINDINGS_TABLE, SCANS_TABLE } from '../../src/export/tables.js';
import { receivedKey, SIMULATOR_DCR_ID } from '../../src/simulator/ingestion.js';
import type { ArmSimulator } from '../../src/simulator/server.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { DirectoryStore } from '../../src/store/stores.js';
import { scanSimulator, withSimulator } from '../helpers/sample.js';
import { runCli } from '../helpers/spawn.js';

/**
 * The Log Analytics export end to end: the real `@azure/monitor-ingestion` client against the
 * simulator's Logs Ingestion API (which validates every row against the declared table schema),
 * through the CLI and in process. The export never fails a committed scan, records what did not
 * arrive, and `export logs` then sends exactly those rows, once.
 */

const received = (sim: ArmSimulator, stream: string) => sim.ingestion.received[receivedKey(SIMULATOR_DCR_ID, stream)] ?? [];

async function ledgerRecord(dir: string, scanId: string): Promise<ExportRecord> {
  return JSON.parse(await readFile(join(dir, 'exports', `${scanId}.json`), 'utf8')) as ExportRecord;
}

describe('Log Analytics export (Logs Ingestion API on the simulator)', () => {
  it('a scan exports one row per finding and one per scan, with the declared columns and types', async () => {
    await withSimulator({}, async (sim) => {
      const dir = await mkdtemp(join(tmpdir(), 'pa-export-'));
      const run = await runCli(
        ['scan', '--arm-endpoint', sim.url, '--output', dir, '--logs-ingestion-endpoint', sim.url, '--dcr-immutable-id', SIMULATOR_DCR_ID],
        { NODE_EXTRA_CA_CERTS: sim.caFile },
      );
      assert.equal(run.code, 1, run.stderr);
      const scan = JSON.parse(await readFile(join(dir, 'scan.json'), 'utf8')) as ScanDocument;
      const findings = (await readFile(join(dir, 'findings.ndjson'), 'utf8')).trimEnd().split('\n');
      assert.match(run.stdout, new RegExp(`^export: ${findings.length + 1} row\\(s\\) of scan ${scan.scanId} in Log Analytics`, 'm'));
      const rows = received(sim, FINDINGS_TABLE.stream);
      assert.equal(rows.length, findings.length);
      assert.deepEqual(received(sim, SCANS_TABLE.stream).map((r) => r.ScanId), [scan.scanId]);
      for (const table of EXPORT_TABLES) {
        const names = new Set(table.columns.map((c) => c.name));
        for (const row of received(sim, table.stream)) assert.deepEqual(Object.keys(row).filter((k) => !names.has(k)), []);
      }
      assert.ok(rows.every((r) => r.ScanId === scan.scanId && r.Source === 'scan'));
      const nsp07 = rows.find((r) => r.RuleId === 'NSP-07' && r.AccountName === 'oai-rollout-prod');
      assert.equal(nsp07?.Outcome, 'fail');
      assert.deepEqual((nsp07?.Controls as { mcsb: string[] }).mcsb, ['NS-2', 'LT-3']);
      assert.equal((await ledgerRecord(dir, scan.scanId)).status, 'sent');
    });
  });

  it('a 403 leaves the scan committed and the export recorded as failed; export logs then sends exactly the missing rows, once', async () => {
    let allowed = false;
    await withSimulator({ ingestion: { acceptToken: (token) => allowed && token === DEVELOPMENT_TOKEN } }, async (sim) => {
      const dir = await mkdtemp(join(tmpdir(), 'pa-export-'));
      const env = { NODE_EXTRA_CA_CERTS: sim.caFile };
      const flags = ['--logs-ingestion-endpoint', sim.url, '--dcr-immutable-id', SIMULATOR_DCR_ID];
      const run = await runCli(['scan', '--arm-endpoint', sim.url, '--output', dir, ...flags], env);
      assert.equal(run.code, 1, 'the scan\'s own exit code (its fails), not the export\'s');
      const scan = JSON.parse(await readFile(join(dir, 'scan.json'), 'utf8')) as ScanDocument;
      assert.match(run.stdout, /did not reach Log Analytics \(.*403.*\); the next run retries them, or: perimeter-auditor export logs --scan /);
      const before = await ledgerRecord(dir, scan.scanId);
      assert.equal(before.status, 'failed');
      assert.equal(received(sim, FINDINGS_TABLE.stream).length, 0);

      allowed = true;
      const retry = await runCli(['export', 'logs', '--scan', scan.scanId, '--output', dir, ...flags], env);
      assert.equal(retry.code, 0, retry.stdout + retry.stderr);
      const findings = (await readFile(join(dir, 'findings.ndjson'), 'utf8')).trimEnd().split('\n').length;
      assert.equal(received(sim, FINDINGS_TABLE.stream).length, findings);
      assert.equal(received(sim, SCANS_TABLE.stream).length, 1);
      const again = await runCli(['export', 'logs', '--scan', scan.scanId, '--output', dir, ...flags], env);
      assert.equal(again.code, 0);
      assert.equal(received(sim, FINDINGS_TABLE.stream).length, findings, 'nothing is sent twice');
      assert.equal((await ledgerRecord(dir, scan.scanId)).attempts, 3);
    });
  });

  it('a 429 storm on some calls: the refused chunks are recorded and only they are sent again', async () => {
    let storm = true;
    const throttled = { status: 429, body: { error: { code: 'TooManyRequests', message: 'slow down' } } };
    await withSimulator({ fault: (r) => (r.kind === 'ingestion' && storm && r.sequence % 2 === 0 ? throttled : undefined) }, async (sim) => {
      const dir = await mkdtemp(join(tmpdir(), 'pa-export-'));
      const { scan } = await scanSimulator(sim, { stores: [new DirectoryStore(dir)] });
      const stored = await new DirectoryStore(dir).current();
      assert.ok(stored);
      const uploader = createLogsUploader({
        endpoint: sim.url, dcrImmutableId: SIMULATOR_DCR_ID, credential: developmentCredential(sim.url), caCertificates: sim.caCertificate,
        throttle: { baseDelayMs: 1, maxAttempts: 1 },
      });
      const ledger = new ExportLedger(new DirectoryKeyValueStore(dir));
      // One call per 200 rows, so that the storm refuses some calls and not others.
      const first = await exportScan({ scan, findings: stored.findings, uploader: chunked(uploader, 200), ledger });
      assert.equal(first.status, 'failed');
      const missing = first.streams[FINDINGS_TABLE.stream]?.missing ?? [];
      assert.ok(missing.length > 0);
      const arrivedFirst = received(sim, FINDINGS_TABLE.stream).length;
      assert.ok(arrivedFirst > 0, 'the calls the storm let through arrived');

      storm = false;
      const second = await exportScan({ scan, findings: stored.findings, uploader, ledger });
      assert.equal(second.status, 'sent');
      const rows = received(sim, FINDINGS_TABLE.stream);
      const o = scan.summary.byOutcome;
      assert.equal(rows.length, o.pass + o.fail + o.unknown + o.not_applicable);
      const keys = rows.map((r) => `${String(r.ResourceId)}|${String(r.RuleId)}`);
      assert.equal(new Set(keys).size, keys.length, 'every finding arrived exactly once');
    });
  });
});

/** An uploader that hands the rows to `inner` `size` at a time (several calls, so a storm can refuse some of them). */
function chunked(inner: ReturnType<typeof createLogsUploader>, size: number): ReturnType<typeof createLogsUploader> {
  return {
    destination: inner.destination,
    async upload(stream, rows) {
      const failed: number[] = [];
      const reasons = new Set<string>();
      for (let i = 0; i < rows.length; i += size) {
        const r = await inner.upload(stream, rows.slice(i, i + size));
        for (const f of r.failed) failed.push(i + f);
        for (const reason of r.reasons) reasons.add(reason);
      }
      return { failed, reasons: [...reasons] };
    },
  };
}
