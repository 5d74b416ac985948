import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { isScanId, type LatestPointer, type ScanDocument } from './scanDocument.js';

/**
 * Where a finished scan is kept. `save` writes the findings first and the commit point last, so a
 * failure part-way leaves the previous scan as the current one.
 */
export interface ScanStore {
  /** Human-readable location, e.g. a directory or a blob URL. */
  readonly location: string;
  /**
   * Writes `scan.json` and `findings.ndjson` (one JSON object per line).
   * @throws the underlying I/O error; previously committed data is intact when it does.
   */
  save(scan: ScanDocument, findingsNdjson: string): Promise<void>;
}

/**
 * A directory holding one scan's files (`--output DIR`). Each file is written to a temporary name
 * and renamed into place, `scan.json` last; a failed write removes its temporary files and leaves
 * the previous files untouched.
 */
export class DirectoryStore implements ScanStore {
  constructor(readonly location: string) {}

  async save(scan: ScanDocument, findingsNdjson: string): Promise<void> {
    await mkdir(this.location, { recursive: true });
    const files: Array<[string, string]> = [
      ['findings.ndjson', findingsNdjson],
      ['scan.json', `${JSON.stringify(scan, null, 2)}\n`],
    ];
    const temps = files.map(([name]) => join(this.location, `.${name}.${scan.scanId}.tmp`));
    try {
      for (const [i, [, content]] of files.entries()) await writeFile(temps[i] as string, content, 'utf8');
      for (const [i, [name]] of files.entries()) await rename(temps[i] as string, join(this.location, name));
    } catch (error) {
      // Best effort: a leftover temporary file never replaces good data.
      await Promise.all(temps.map((t) => rm(t, { force: true }).catch(() => undefined)));
      throw error;
    }
  }
}

/**
 * Blob Storage layout (ARCHITECTURE.md): `scans/{scanId}/findings.ndjson`, `scans/{scanId}/scan.json`,
 * then `latest.json` (`{ scanId, finishedAt }`) written last as the commit point.
 */
export class BlobStore implements ScanStore {
  constructor(private readonly container: ContainerClient) {}

  get location(): string {
    return this.container.url;
  }

  async save(scan: ScanDocument, findingsNdjson: string): Promise<void> {
    if (!isScanId(scan.scanId)) throw new Error(`refusing to store a scan with a malformed scanId: ${scan.scanId}`);
    await this.container.createIfNotExists();
    const put = async (name: string, content: string, contentType: string) => {
      const body = Buffer.from(content, 'utf8');
      await this.container
        .getBlockBlobClient(name)
        .upload(body, body.length, { blobHTTPHeaders: { blobContentType: contentType } });
    };
    await put(`scans/${scan.scanId}/findings.ndjson`, findingsNdjson, 'application/x-ndjson');
    await put(`scans/${scan.scanId}/scan.json`, JSON.stringify(scan, null, 2), 'application/json');
    const latest: LatestPointer = { scanId: scan.scanId, finishedAt: scan.finishedAt };
    await put('latest.json', JSON.stringify(latest), 'application/json');
  }

  /** Reads `latest.json`; undefined when no scan was committed yet. */
  async latest(): Promise<LatestPointer | undefined> {
    const blob = this.container.getBlobClient('latest.json');
    if (!(await blob.exists())) return undefined;
    return JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as LatestPointer;
  }
}
