import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Baseline, loadBaseline } from '../engine/diff.js';
import { fileFindings } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';
import { DirectoryStore } from '../store/stores.js';
import { type ReportFormat, reportArtifacts } from './index.js';

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

/**
 * `perimeter-auditor report`: renders reports again from a saved scan directory (scan.json +
 * findings.ndjson), optionally against a previous scan directory, into `outDir` (default: the scan
 * directory). Existing reports are replaced only when every new one was written.
 * @throws ScanDirectoryError for a missing or unreadable scan; FindingsFormatError for a bad line.
 * @returns the files written
 */
export async function rerenderReports(o: { scanDir: string; formats: readonly ReportFormat[]; previousDir?: string; outDir?: string }): Promise<string[]> {
  const scan = await readScan(o.scanDir);
  let previous: Baseline | undefined;
  if (o.previousDir) {
    const prev = await readScan(o.previousDir);
    previous = await loadBaseline(prev.scanId, prev.finishedAt, fileFindings(join(o.previousDir, 'findings.ndjson')));
  }
  const artifacts = reportArtifacts(scan, fileFindings(join(o.scanDir, 'findings.ndjson')), o.formats, previous);
  const out = o.outDir ?? o.scanDir;
  await new DirectoryStore(out).saveFiles(scan.scanId, artifacts);
  return artifacts.map((a) => join(out, a.name));
}
