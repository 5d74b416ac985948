import { createWriteStream } from 'node:fs';
import { access, link, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ContainerClient } from '@azure/storage-blob';
import { type Artifact, type FindingSource, readFindings } from './artifact.js';
import { isScanId, type LatestPointer, type ScanDocument } from './scanDocument.js';
import { printableUrl } from '../config/endpoints.js';
import { faultPoint } from '../testing/faults.js';
import { JsonBlobs } from './json.js';

/** A scan already stored: its document and a way to read its findings again. */
export interface StoredScan {
  readonly scan: ScanDocument;
  readonly findings: FindingSource;
}

/**
 * Where a finished scan is kept. `save` writes the artifacts first and the commit point last, so a
 * failure part-way leaves the previous scan as the current one.
 */
export interface ScanStore {
  /** Human-readable location, e.g. a directory or a container URL. */
  readonly location: string;
  /**
   * Writes every artifact (findings, reports), then `scan.json`, then the commit point.
   * @throws the underlying I/O error; the previously committed scan stays current when it does.
   */
  save(scan: ScanDocument, artifacts: readonly Artifact[]): Promise<void>;
  /** The current (last committed) scan, or undefined when there is none. */
  current(): Promise<StoredScan | undefined>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function writeTo(artifact: Artifact, out: Writable): Promise<void> {
  const done = finished(out);
  try {
    await artifact.write(out);
  } catch (error) {
    out.destroy(error as Error);
    await done.catch(() => undefined);
    throw error;
  }
  out.end();
  await done;
}

/**
 * A directory holding one scan's files (`--output DIR`). Each file is written to a temporary name
 * and renamed into place, `scan.json` last; a failed write removes the temporary files and leaves
 * the previous files untouched.
 */
export class DirectoryStore implements ScanStore {
  constructor(readonly location: string) {}

  async save(scan: ScanDocument, artifacts: readonly Artifact[]): Promise<void> {
    const scanArtifact: Artifact = {
      name: 'scan.json',
      contentType: 'application/json',
      write: async (out) => {
        out.write(`${JSON.stringify(scan, null, 2)}\n`);
      },
    };
    await this.saveFiles(scan.scanId, [...artifacts, scanArtifact]);
  }

  /**
   * Writes artifacts to temporary names, then renames them into place in order; on any failure the
   * temporary files are removed and the existing files are left as they were.
   */
  async saveFiles(tag: string, artifacts: readonly Artifact[]): Promise<void> {
    await mkdir(this.location, { recursive: true });
    const temps = artifacts.map((a) => join(this.location, `.${a.name}.${tag}.tmp`));
    try {
      for (const [i, artifact] of artifacts.entries()) {
        const temp = temps[i] as string;
        // A finished file is linked, not copied, when it is on this file system; else (another
        // device, a file system without hard links) it is copied.
        if (artifact.file !== undefined && (await link(artifact.file, temp).then(() => true, () => false))) continue;
        await writeTo(artifact, createWriteStream(temp));
      }
      for (const [i, artifact] of artifacts.entries()) await rename(temps[i] as string, join(this.location, artifact.name));
    } catch (error) {
      // Best effort: a leftover temporary file never replaces good data.
      await Promise.all(temps.map((t) => rm(t, { force: true }).catch(() => undefined)));
      throw error;
    }
  }

  async current(): Promise<StoredScan | undefined> {
    const scanPath = join(this.location, 'scan.json');
    const findingsPath = join(this.location, 'findings.ndjson');
    if (!(await exists(scanPath)) || !(await exists(findingsPath))) return undefined;
    const scan = JSON.parse(await readFile(scanPath, 'utf8')) as ScanDocument;
    // The findings are read through a handle opened now: a save renames a new findings.ndjson into
    // place, and the caller (the next scan's diff and digest) must still read the previous one. The
    // handle lives as long as the process (a CLI run).
    const handle = await open(findingsPath, 'r');
    return { scan, findings: () => readFindings(handle.createReadStream({ start: 0, autoClose: false, encoding: 'utf8' })) };
  }
}

/**
 * Blob Storage layout (ARCHITECTURE.md): `scans/{scanId}/{artifact}` for each artifact, then
 * `scans/{scanId}/scan.json`, then `latest.json` (`{ scanId, finishedAt }`) written last as the
 * commit point.
 */
export class BlobStore implements ScanStore {
  constructor(readonly container: ContainerClient) {}

  /** The container URL without its query (a SAS from a connection string) or user info: safe to print. */
  get location(): string {
    return printableUrl(new URL(this.container.url));
  }

  async save(scan: ScanDocument, artifacts: readonly Artifact[]): Promise<void> {
    if (!isScanId(scan.scanId)) throw new Error(`refusing to store a scan with a malformed scanId: ${scan.scanId}`);
    await this.container.createIfNotExists();
    for (const artifact of artifacts) {
      await this.upload(`scans/${scan.scanId}/${artifact.name}`, artifact);
      faultPoint('upload');
    }
    await this.put(`scans/${scan.scanId}/scan.json`, JSON.stringify(scan, null, 2), 'application/json');
    faultPoint('upload');
    const latest: LatestPointer = { scanId: scan.scanId, finishedAt: scan.finishedAt };
    faultPoint('before-latest');
    await this.put('latest.json', JSON.stringify(latest), 'application/json');
    faultPoint('after-latest');
  }

  /** Streams an artifact into a block blob (4 MiB blocks, 2 in flight). */
  private async upload(name: string, artifact: Artifact): Promise<void> {
    const pass = new PassThrough();
    const uploading = this.container
      .getBlockBlobClient(name)
      .uploadStream(pass, 4 * 1024 * 1024, 2, { blobHTTPHeaders: { blobContentType: artifact.contentType } });
    try {
      await writeTo(artifact, pass);
    } finally {
      // If writing failed the stream was destroyed and the upload rejects too; surface the first error.
      await uploading.catch((error: unknown) => {
        if (!pass.destroyed || pass.errored === null) throw error;
      });
    }
  }

  private async put(name: string, content: string, contentType: string): Promise<void> {
    await new JsonBlobs(this.container).writeText(name, content, 'any', contentType);
  }

  /** Reads `latest.json`; undefined when no scan was committed yet. */
  async latest(): Promise<LatestPointer | undefined> {
    return new JsonBlobs(this.container).value<LatestPointer>('latest.json');
  }

  /** Reads a stored scan by ID; undefined when it does not exist. @throws Error for a malformed scanId. */
  async scan(scanId: string): Promise<StoredScan | undefined> {
    if (!isScanId(scanId)) throw new Error(`malformed scanId: ${scanId}`);
    const scan = await new JsonBlobs(this.container).value<ScanDocument>(`scans/${scanId}/scan.json`);
    if (!scan) return undefined;
    const findingsBlob = this.container.getBlobClient(`scans/${scanId}/findings.ndjson`);
    return {
      scan,
      findings: async function* () {
        const response = await findingsBlob.download();
        if (!response.readableStreamBody) throw new Error('findings.ndjson has no body');
        yield* readFindings(response.readableStreamBody as NodeJS.ReadableStream as import('node:stream').Readable);
      },
    };
  }

  async current(): Promise<StoredScan | undefined> {
    const latest = await this.latest();
    return latest ? this.scan(latest.scanId) : undefined;
  }
}
