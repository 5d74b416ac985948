import type { Finding } from '../domain/rule.js';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Baseline, loadBaseline } from '../engine/diff.js';
import { copyFile, fileFindings } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import { DirectoryStore } from '../store/stores.js';
import type { ReportFormat } from './index.js';
import { ReportWriter } from './writer.js';

/** Thrown when a scan directory does not hold a readable scan. */
export class ScanDirectoryError extends Error {}

async function readScan(dir: string): Promise<ScanDocument> {
  let text: string;
  try {
    text = await readFile(join(dir, 'scan.json'), 'utf8');
  } catch (error) {
    throw new ScanDirectoryError(`${dir}: no readable scan.json (${(error as Error).message})`);
  }
  try {
    const scan = JSON.parse(text) as ScanDocument;
    if (scan.schemaVersion !== 1 || typeof scan.scanId !== 'string') throw new Error('not a schemaVersion 1 scan');
    return scan;
  } catch (error) {
    throw new ScanDirectoryError(`${dir}/scan.json: ${(error as Error).message}`);
  }
}

/** Non-empty lines of a file (count), read as a stream; blank lines are not findings. */
async function countLines(path: string): Promise<number> {
  let lines = 0;
  let inLine = false;
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      for (const byte of chunk) {
        if (byte === 10) {
          if (inLine) lines += 1;
          inLine = false;
        } else if (byte !== 13 && byte !== 32) inLine = true;
      }
    }
  } catch (error) {
    throw new ScanDirectoryError(`${path}: not readable (${(error as Error).message})`);
  }
  return inLine ? lines + 1 : lines;
}

/**
 * Refuses a findings file that does not hold every (rule, account) pair `scan.json` counts: a file
 * cut short must not be reported as the whole scan.
 * @throws ScanDirectoryError naming both numbers
 */
async function requireAllFindings(dir: string, scan: ScanDocument): Promise<void> {
  const expected = scan.coverage.accounts * scan.rules.length;
  const found = await countLines(join(dir, 'findings.ndjson'));
  if (found !== expected) {
    throw new ScanDirectoryError(
      `${dir}/findings.ndjson has ${found} finding(s), but scan.json says ${scan.coverage.accounts} account(s) × ${scan.rules.length} rule(s) = ${expected}: the file is incomplete or not this scan's`,
    );
  }
}

/**
 * `perimeter-auditor report`: renders reports again from a saved scan directory (scan.json +
 * findings.ndjson), optionally against a previous scan directory, into `outDir` (default: the scan
 * directory). Existing reports are replaced only when every new one was written. The findings are
 * read once for every format (reports/writer.ts, as a commit writes them), and the HTML trend is the
 * scan directory's `history.json` up to this scan, as the commit drew it.
 * @throws ScanDirectoryError for a missing or unreadable scan, a findings file whose line count is not
 *   accounts × rules of its scan.json (either directory), or a `history.json` that is not a history;
 *   FindingsFormatError for a bad line.
 * @returns the files written
 */
export async function rerenderReports(o: { scanDir: string; formats: readonly ReportFormat[]; previousDir?: string; outDir?: string }): Promise<string[]> {
  const scan = await readScan(o.scanDir);
  await requireAllFindings(o.scanDir, scan);
  let previous: Baseline | undefined;
  if (o.previousDir) {
    const prev = await readScan(o.previousDir);
    await requireAllFindings(o.previousDir, prev);
    previous = await loadBaseline(prev.scanId, prev.finishedAt, fileFindings(join(o.previousDir, 'findings.ndjson')));
  }
  // The trend the commit drew: the directory's history up to this scan (store/stores.ts).
  const history = await new DirectoryStore(o.scanDir).history().catch((error: unknown) => {
    throw new ScanDirectoryError(`${o.scanDir}: the trend could not be read (${(error as Error).message})`);
  });
  const out = o.outDir ?? o.scanDir;
  // The commit's writer, fed the saved findings.ndjson instead of the parts: one pass, every format.
  // The reports count an account per run of its findings, as the scan writes them (grouped by
  // account): a file re-ordered by hand would count accounts twice, so it is refused.
  let runs = 0;
  let last: string | undefined;
  const countRuns = (f: Finding) => {
    const key = f.resourceId.toLowerCase();
    if (key !== last) runs += 1;
    last = key;
  };
  const reports = await ReportWriter.open({ scan, formats: o.formats, previous, history, observe: countRuns });
  try {
    await reports.read([(to) => copyFile(join(o.scanDir, 'findings.ndjson'), to)]);
    if (runs !== scan.coverage.accounts) {
      throw new ScanDirectoryError(
        `${o.scanDir}/findings.ndjson holds ${runs} run(s) of one account's findings, but scan.json says ${scan.coverage.accounts} account(s): its findings are not grouped by account, as a scan writes them`,
      );
    }
    const artifacts = await reports.finish(scan);
    await new DirectoryStore(out).saveFiles(scan.scanId, artifacts);
    return artifacts.map((a) => join(out, a.name));
  } finally {
    await reports.remove();
  }
}
