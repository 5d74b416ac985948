import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { DirectoryKeyValueStore } from '../../src/alerts/ledger.js';
import type { Finding } from '../../src/domain/rule.js';
import { ExportLedger, exportAfterCommit, exportScan, type LogsUploader, missingRows, toRanges } from '../../src/export/logsExport.js';
import { FINDINGS_TABLE, SCANS_TABLE } from '../../src/export/tables.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { scanSimulator, withSimulator } from '../helpers/sample.js';

/**
 * The export ledger's bookkeeping (our own code, so a scripted uploader stands in for the service
 * here; the SDK adapter is tested against the simulator's Logs Ingestion API in export.test.ts):
 * what did not arrive is recorded by row index, and a later attempt sends exactly those rows, once.
 */

/** An uploader that refuses the rows `refuse` picks (by ScanId and finding identity) and records what arrived. */
function scripted(refuse: (row: Record<string, unknown>) => boolean): LogsUploader & { arrived: Array<{ stream: string; row: Record<string, unknown> }> } {
  const arrived: Array<{ stream: string; row: Record<string, unknown> }> = [];
  return {
    arrived,
    destination: { endpoint: 'https://dce.example', dcrImmutableId: 'dcr-00000000000000000000000000000001' },
    async upload(stream, rows) {
      const failed: number[] = [];
      rows.forEach((row, i) => (refuse(row) ? failed.push(i) : arrived.push({ stream, row })));
      return { failed, reasons: failed.length ? ['HTTP 429 (scripted)'] : [] };
    },
  };
}

async function* streamOf(list: readonly Finding[]): AsyncIterable<Finding> {
  yield* list;
}

const keyOf = (row: Record<string, unknown>) => `${String(row.ResourceId)}|${String(row.RuleId)}`;

async function sampleScan(): Promise<{ scan: ScanDocument; findings: Finding[] }> {
  return withSimulator({}, async (sim) => {
    const r = await scanSimulator(sim);
    return { scan: r.scan, findings: [...r.findings] };
  });
}

describe('export ledger', () => {
  it('compresses indexes into ranges', () => {
    assert.deepEqual(toRanges([5, 1, 2, 3, 9, 2]), [[1, 4], [5, 6], [9, 10]]);
    assert.deepEqual(toRanges([]), []);
  });

  it('records what did not arrive, and the retry sends exactly those rows, once', async () => {
    const { scan, findings } = await sampleScan();
    const ledger = new ExportLedger(new DirectoryKeyValueStore(await mkdtemp(join(tmpdir(), 'pa-export-'))));
    const source = () => streamOf(findings);
    // First attempt: every NSP-07 row and the scan row are refused.
    const first = scripted((row) => row.RuleId === 'NSP-07' || !('RuleId' in row));
    const r1 = await exportScan({ scan, findings: source, uploader: first, ledger });
    const refused = findings.filter((f) => f.ruleId === 'NSP-07').length;
    assert.equal(r1.status, 'failed');
    assert.equal(missingRows(r1), refused + 1);
    assert.equal(r1.streams[FINDINGS_TABLE.stream]?.rows, findings.length);
    assert.match(r1.reason ?? '', /429/);
    assert.equal(first.arrived.length, findings.length - refused);

    // Second attempt: everything is accepted; only the missing rows are sent.
    const second = scripted(() => false);
    const r2 = await exportScan({ scan, findings: source, uploader: second, ledger });
    assert.equal(r2.status, 'sent');
    assert.equal(r2.attempts, 2);
    assert.equal(second.arrived.length, refused + 1);
    assert.ok(second.arrived.filter((a) => a.stream === FINDINGS_TABLE.stream).every((a) => a.row.RuleId === 'NSP-07'));
    assert.equal(second.arrived.filter((a) => a.stream === SCANS_TABLE.stream).length, 1);
    // Together: every finding exactly once.
    const all = [...first.arrived, ...second.arrived].filter((a) => a.stream === FINDINGS_TABLE.stream).map((a) => keyOf(a.row));
    assert.equal(new Set(all).size, findings.length);
    assert.equal(all.length, findings.length);

    // A third attempt sends nothing.
    const third = scripted(() => false);
    await exportScan({ scan, findings: source, uploader: third, ledger });
    assert.equal(third.arrived.length, 0);
  });

  it('the next run retries an earlier scan\'s missing rows; gone findings make it unavailable, not pending forever', async () => {
    const { scan, findings } = await sampleScan();
    const ledger = new ExportLedger(new DirectoryKeyValueStore(await mkdtemp(join(tmpdir(), 'pa-export-'))));
    const source = () => streamOf(findings);
    await exportScan({ scan, findings: source, uploader: scripted(() => true), ledger });
    assert.deepEqual(await ledger.pending(), [scan.scanId]);

    const later = { ...scan, scanId: scan.scanId.replace(/^(\d{4})/, (y) => String(Number(y) + 1)) };
    const uploader = scripted(() => false);
    const lines: string[] = [];
    const findingsOf = async (id: string) => (id === scan.scanId ? { scan, findings: source } : undefined);
    await exportAfterCommit({ scan: later, findings: source, uploader, ledger, findingsOf, log: (l) => lines.push(l) });
    assert.deepEqual(await ledger.pending(), []);
    assert.equal(uploader.arrived.filter((a) => a.row.ScanId === scan.scanId).length, findings.length + 1, 'the earlier scan, retried');
    assert.equal(uploader.arrived.filter((a) => a.row.ScanId === later.scanId).length, findings.length + 1);

    // A scan whose findings are gone (a directory keeps one scan) is marked unavailable, once.
    const third = { ...scan, scanId: scan.scanId.replace(/^(\d{4})/, (y) => String(Number(y) + 2)) };
    await exportScan({ scan: third, findings: source, uploader: scripted(() => true), ledger });
    const gone = async () => undefined;
    await exportAfterCommit({ scan: later, findings: source, uploader: scripted(() => false), ledger, findingsOf: gone, log: () => {} });
    assert.equal((await ledger.read(third.scanId))?.status, 'unavailable');
    assert.deepEqual(await ledger.pending(), []);
  });

  it('hostile names travel as data: the row holds the text as it is', async () => {
    const { scan, findings } = await sampleScan();
    const hostile: Finding[] = findings.slice(0, 1).map((f) => ({ ...f, accountName: '=cmd|\' /C calc\'!A0 \u202Egnp.exe <script>', message: 'x'.repeat(10_000) }));
    const uploader = scripted(() => false);
    const ledger = new ExportLedger(new DirectoryKeyValueStore(await mkdtemp(join(tmpdir(), 'pa-export-'))));
    await exportScan({ scan, findings: () => streamOf(hostile), uploader, ledger });
    const row = uploader.arrived.find((a) => a.stream === FINDINGS_TABLE.stream)?.row;
    assert.equal(row?.AccountName, hostile[0]?.accountName);
    assert.equal((row?.Message as string).length, 10_000);
  });
});
