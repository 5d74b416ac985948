import { createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { access, link, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ContainerClient, newPipeline } from '@azure/storage-blob';
import { type Artifact, type FindingSource, readFindings } from './artifact.js';
import { isScanId, type LatestPointer, type ScanDocument } from './scanDocument.js';
import { printableUrl } from '../config/endpoints.js';
import { parseTrendPoint, TREND_LIMIT, type TrendPoint, trendOf } from '../reports/trend.js';
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
  /**
   * The trend of the committed scans the store holds (reports/trend.ts), oldest first, at most
   * `limit` (default `TREND_LIMIT`): from their `scan.json` summaries, never from findings. A store
   * without it keeps no history (the HTML trend then holds the scan being committed alone).
   * @throws the underlying I/O error, or Error naming a stored history that is not one
   */
  history?(limit?: number): Promise<TrendPoint[]>;
  /**
   * Checks, before a scan starts, that the store can be written: a small file is written and removed
   * (a directory is created when missing, a Blob container when missing), so a destination that is a
   * file, refuses connections or refuses the identity fails in seconds rather than after the scan.
   * A store without a probe is not checked.
   * @throws DestinationError naming the store and the reason, in plain words
   */
  probe?(): Promise<void>;
}

/** Thrown when a store cannot be written (its probe or a save); the message names the store and the reason. */
export class DestinationError extends Error {}

/** An I/O error's reason in plain words: the cause's message, with a hint for the common ones. */
function reasonOf(error: unknown): string {
  const e = error as { code?: string; statusCode?: number; message?: string } | undefined;
  const message = (e?.message ?? String(error)).trim();
  const hints: Record<string, string> = {
    ECONNREFUSED: 'nothing listens there: is the storage endpoint running, and is the URL or connection string right?',
    ENOTFOUND: 'the host name does not resolve: is the account name right?',
    ETIMEDOUT: 'no answer: is the endpoint reachable from here (firewall, private endpoint)?',
    ENOTDIR: 'a part of the path is a file, not a directory',
    EEXIST: 'a file of that name exists, and it is not a directory',
    EACCES: 'permission denied',
    EROFS: 'the file system is read-only',
  };
  const hint = (e?.code && hints[e.code])
    ?? (e?.statusCode === 403 ? 'the identity may not write here: give it Storage Blob Data Contributor on the container (or the account)' : undefined)
    ?? (e?.statusCode === 404 ? 'the storage account or container does not exist' : undefined);
  return hint ? `${message} (${hint})` : message;
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

/** A directory's trend file: `{ schemaVersion: 1, scans: TrendPoint[] }`, oldest first, the last `TREND_LIMIT` scans. */
export const HISTORY_FILE = 'history.json';

/** A JSON document as an artifact (indented by two spaces, and a newline). */
function jsonArtifact(name: string, value: unknown): Artifact {
  return {
    name,
    contentType: 'application/json',
    write: async (out) => {
      out.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

/** Reads a file's text; undefined when it does not exist. @throws other I/O errors */
async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The points of a `history.json` text. @throws Error naming the file and the first entry that is
 * not a trend point, or the JSON error
 */
function parseHistory(text: string, path: string): TrendPoint[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
  const doc = value as { schemaVersion?: unknown; scans?: unknown } | null;
  if (doc?.schemaVersion !== 1 || !Array.isArray(doc.scans)) throw new Error(`${path} is not a schemaVersion 1 history ({ schemaVersion: 1, scans: [...] })`);
  return doc.scans.map((entry: unknown, i) => {
    const point = parseTrendPoint(entry);
    if (!point) throw new Error(`${path}: scans[${i}] is not a trend point`);
    return point;
  });
}

/**
 * A directory holding one scan's files (`--output DIR`). Each file is written to a temporary name
 * and renamed into place, `scan.json` last; a failed write removes the temporary files and leaves
 * the previous files untouched.
 *
 * Each save also rewrites `history.json` (`HISTORY_FILE`): the trend points of the last
 * `TREND_LIMIT` scans committed to the directory, this one included, so that a CLI user gets a trend
 * although the directory keeps one scan. It is renamed into place just before `scan.json` (the
 * commit point), so an entry newer than `scan.json` is a save that did not finish, and `history`
 * leaves it out.
 */
export class DirectoryStore implements ScanStore {
  constructor(readonly location: string) {}

  async save(scan: ScanDocument, artifacts: readonly Artifact[]): Promise<void> {
    await this.saveFiles(scan.scanId, [...artifacts, ...(await this.nextHistory(scan)), jsonArtifact('scan.json', scan)]);
  }

  /**
   * Creates the directory when missing, then writes and removes `.probe-{random}.tmp` in it.
   * @throws DestinationError naming the directory: it is a file, a parent is a file, or it cannot be written
   */
  async probe(): Promise<void> {
    const isFile = await stat(this.location).then((s) => !s.isDirectory(), () => false);
    if (isFile) throw new DestinationError(`the output directory ${this.location} is a file, not a directory: give --output a directory (it is created when missing)`);
    const probe = join(this.location, `.probe-${randomBytes(4).toString('hex')}.tmp`);
    try {
      await mkdir(this.location, { recursive: true });
      await writeFile(probe, 'perimeter-auditor write probe\n');
    } catch (error) {
      throw new DestinationError(`the output directory ${this.location} cannot be written: ${reasonOf(error)}`);
    } finally {
      await rm(probe, { force: true }).catch(() => undefined);
    }
  }

  /**
   * `history.json` with `scan` added. A history that cannot be read is not carried on: the new one
   * starts with this scan (the commit's own read of it, for the report, has logged why). The trend
   * never stops a save: a scan it cannot make a point of leaves the history as it was (none).
   */
  private async nextHistory(scan: ScanDocument): Promise<Artifact[]> {
    const previous = await this.history(TREND_LIMIT).catch(() => []);
    try {
      return [jsonArtifact(HISTORY_FILE, { schemaVersion: 1, scans: trendOf([...previous, scan], TREND_LIMIT) })];
    } catch {
      return [];
    }
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

  /**
   * The directory's trend: `history.json`'s points no newer than the committed `scan.json`, and that
   * scan (a directory written before the history existed starts its trend with it). Empty when the
   * directory holds no scan.
   * @throws Error naming `history.json` when it is not a history; I/O errors other than a missing file
   */
  async history(limit: number = TREND_LIMIT): Promise<TrendPoint[]> {
    const scanText = await readIfExists(join(this.location, 'scan.json'));
    if (scanText === undefined) return [];
    const current = JSON.parse(scanText) as ScanDocument;
    const historyPath = join(this.location, HISTORY_FILE);
    const text = await readIfExists(historyPath);
    const stored = text === undefined ? [] : parseHistory(text, historyPath);
    return trendOf([...stored.filter((p) => p.scanId <= current.scanId), current], limit);
  }
}

/** The prefix of the commit records: `commits/{scanId}.json`, one per scan whose `latest.json` write succeeded. */
export const COMMITS_PREFIX = 'commits/';

/**
 * Blob Storage layout (ARCHITECTURE.md): `scans/{scanId}/{artifact}` for each artifact, then
 * `scans/{scanId}/scan.json`, then `latest.json` (`{ scanId, finishedAt }`) written last as the
 * commit point, then the commit record `commits/{scanId}.json` (the same pointer), which is what
 * lists the scan as committed (`committedScanIds`). A scan whose `latest.json` write was refused (a
 * lease, a lost connection) gets no record, so it is never listed, even once a later scan commits.
 * A process that dies between `latest.json` and its record leaves the newest scan without one: the
 * next save writes it first (the pointer it replaces was committed).
 */
export class BlobStore implements ScanStore {
  constructor(readonly container: ContainerClient) {}

  /** The container URL without its query (a SAS from a connection string) or user info: safe to print. */
  get location(): string {
    return printableUrl(new URL(this.container.url));
  }

  /**
   * Writes every artifact, `scan.json`, `latest.json`, then the commit record.
   * @throws DestinationError naming the store, the blob and the reason; `latest.json` stays on the
   *   previous scan unless its own write succeeded
   */
  async save(scan: ScanDocument, artifacts: readonly Artifact[]): Promise<void> {
    if (!isScanId(scan.scanId)) throw new Error(`refusing to store a scan with a malformed scanId: ${scan.scanId}`);
    let step = `create the container`;
    try {
      await this.container.createIfNotExists();
      for (const artifact of artifacts) {
        step = `write scans/${scan.scanId}/${artifact.name}`;
        await this.upload(`scans/${scan.scanId}/${artifact.name}`, artifact);
        faultPoint('upload');
      }
      step = `write scans/${scan.scanId}/scan.json`;
      await this.put(`scans/${scan.scanId}/scan.json`, JSON.stringify(scan, null, 2), 'application/json');
      faultPoint('upload');
      step = 'record the previous commit';
      await this.recordPreviousCommit();
      const latest: LatestPointer = { scanId: scan.scanId, finishedAt: scan.finishedAt };
      faultPoint('before-latest');
      step = 'write latest.json (the commit point)';
      await this.put('latest.json', JSON.stringify(latest), 'application/json');
      faultPoint('after-latest');
      step = `write ${COMMITS_PREFIX}${scan.scanId}.json`;
      await this.put(`${COMMITS_PREFIX}${scan.scanId}.json`, JSON.stringify(latest), 'application/json');
    } catch (error) {
      throw new DestinationError(`the Blob store ${this.location} could not ${step} for scan ${scan.scanId}: ${reasonOf(error)}`, { cause: error });
    }
  }

  /**
   * Before a new commit point: the scan `latest.json` names now gets its commit record when it has
   * none (a process died after writing `latest.json`), and a store written before commit records
   * existed gets one for every scan its listing counted as committed (those no newer than
   * `latest.json`), once, so no scan it listed disappears.
   */
  private async recordPreviousCommit(): Promise<void> {
    const latest = await this.latest();
    if (!latest) return;
    const records = await this.commitRecords();
    if (records.length === 0) {
      const legacy = (await this.scanIds()).filter((id) => id <= latest.scanId);
      for (const id of legacy) await this.put(`${COMMITS_PREFIX}${id}.json`, JSON.stringify({ scanId: id }), 'application/json');
      return;
    }
    if (!records.includes(latest.scanId)) await this.put(`${COMMITS_PREFIX}${latest.scanId}.json`, JSON.stringify(latest), 'application/json');
  }

  /** The scanIds of the commit records (`commits/{scanId}.json`), newest first. */
  private async commitRecords(): Promise<string[]> {
    const ids: string[] = [];
    for await (const item of this.container.listBlobsFlat({ prefix: COMMITS_PREFIX })) {
      const id = item.name.slice(COMMITS_PREFIX.length).replace(/\.json$/, '');
      if (isScanId(id)) ids.push(id);
    }
    return ids.sort().reverse();
  }

  /**
   * The committed scans, newest first: the one `latest.json` names (its record may not be written
   * yet) and those with a commit record no newer than it (a scan committed and then overtaken by an
   * older one's commit is newer than the commit point, and left out, as `latest.json` says). A store
   * without any record (written before records existed) lists, as it did, the scans under `scans/`
   * no newer than `latest.json`. Empty when the container or `latest.json` does not exist.
   * @throws storage errors
   */
  async committedScanIds(): Promise<string[]> {
    if (!(await this.container.exists())) return [];
    const latest = await this.latest();
    if (!latest) return [];
    const records = await this.commitRecords();
    if (records.length === 0) return (await this.scanIds()).filter((id) => id <= latest.scanId);
    return [...new Set([...records.filter((id) => id <= latest.scanId), latest.scanId])].sort().reverse();
  }

  /**
   * Creates the container when missing, then writes and deletes `probes/{random}.txt`, with at most
   * two attempts (a refused connection fails in about a second, not after the SDK's long retries).
   * @throws DestinationError naming the container and the reason
   */
  async probe(): Promise<void> {
    const retryOptions = { maxTries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 1000, tryTimeoutInMs: 30_000 };
    const quick = new ContainerClient(this.container.url, newPipeline(this.container.credential, { retryOptions }));
    const name = `probes/${randomBytes(4).toString('hex')}.txt`;
    try {
      await quick.createIfNotExists();
      const text = 'perimeter-auditor write probe\n';
      await quick.getBlockBlobClient(name).upload(text, Buffer.byteLength(text));
    } catch (error) {
      throw new DestinationError(`the Blob store ${this.location} cannot be written: ${reasonOf(error)}`);
    }
    // The probe blob is removed; an identity that may write but not delete leaves it (harmless).
    await quick.getBlobClient(name).deleteIfExists().catch(() => undefined);
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

  /** The IDs of the scans under `scans/` (a folder of the scanId form), newest first; none when the container does not exist. */
  async scanIds(): Promise<string[]> {
    const ids: string[] = [];
    if (!(await this.container.exists())) return ids;
    for await (const item of this.container.listBlobsByHierarchy('/', { prefix: 'scans/' })) {
      if (item.kind !== 'prefix') continue;
      const id = item.name.slice('scans/'.length).replace(/\/$/, '');
      if (isScanId(id)) ids.push(id);
    }
    return ids.sort().reverse();
  }

  /**
   * The trend of the committed scans (`committedScanIds`): the newest `limit` (default
   * `TREND_LIMIT`) that have a `scan.json`, read from their `scan.json` alone (10 at a time). A
   * running scan, or one whose commit was refused, is left out. Empty before the first commit.
   * @throws storage errors; SyntaxError naming a `scan.json` that is not JSON
   */
  async history(limit: number = TREND_LIMIT): Promise<TrendPoint[]> {
    const candidates = await this.committedScanIds();
    const json = new JsonBlobs(this.container);
    const scans: ScanDocument[] = [];
    for (let i = 0; i < candidates.length && scans.length < limit; i += 10) {
      const batch = candidates.slice(i, i + 10);
      const read = await Promise.all(batch.map((id) => json.value<ScanDocument>(`scans/${id}/scan.json`)));
      for (const scan of read) if (scan && scans.length < limit) scans.push(scan);
    }
    return trendOf(scans, limit);
  }
}
