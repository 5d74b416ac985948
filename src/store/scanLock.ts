import { RestError } from '@azure/core-rest-pipeline';
import type { ContainerClient } from '@azure/storage-blob';

/**
 * "A scan is running": one blob, `locks/scan.json`, created with a conditional write
 * (If-None-Match: *), so two triggers can never both believe they hold it. A holder that died is
 * replaced once its `expiresAt` has passed (the replacement is conditional on the old ETag).
 */

export interface LockHolder {
  readonly scanId: string;
  /** `scheduled`, `http`, … */
  readonly trigger: string;
  readonly startedAt: string;
  readonly expiresAt: string;
}

export type AcquireResult = { readonly acquired: true } | { readonly acquired: false; readonly holder: LockHolder };

const LOCK_BLOB = 'locks/scan.json';

function isConditionFailure(error: unknown): boolean {
  const status = (error as RestError | undefined)?.statusCode;
  return status === 409 || status === 412;
}

export class ScanLock {
  /**
   * @param ttlMs how long a holder keeps the lock without releasing it (ms); default 2 hours, beyond
   *   any scan's function timeout.
   */
  constructor(
    private readonly container: ContainerClient,
    private readonly ttlMs = 2 * 60 * 60 * 1000,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async read(): Promise<{ holder: LockHolder; etag: string } | undefined> {
    const blob = this.container.getBlobClient(LOCK_BLOB);
    try {
      const response = await blob.download();
      const chunks: Buffer[] = [];
      for await (const c of response.readableStreamBody ?? []) chunks.push(Buffer.from(c as Buffer));
      return { holder: JSON.parse(Buffer.concat(chunks).toString('utf8')) as LockHolder, etag: response.etag ?? '' };
    } catch (error) {
      if ((error as RestError).statusCode === 404) return undefined;
      throw error;
    }
  }

  /** The live holder, if any (an expired holder is not live). */
  async holder(): Promise<LockHolder | undefined> {
    const current = await this.read();
    if (!current) return undefined;
    return Date.parse(current.holder.expiresAt) > this.now().getTime() ? current.holder : undefined;
  }

  /** Tries to take the lock for `scanId`. @throws on storage errors other than a lost race. */
  async acquire(scanId: string, trigger: string): Promise<AcquireResult> {
    await this.container.createIfNotExists();
    const now = this.now();
    const holder: LockHolder = {
      scanId,
      trigger,
      startedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.ttlMs).toISOString(),
    };
    const body = JSON.stringify(holder);
    const blob = this.container.getBlockBlobClient(LOCK_BLOB);
    try {
      await blob.upload(body, Buffer.byteLength(body), { conditions: { ifNoneMatch: '*' } });
      return { acquired: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const current = await this.read();
    if (current && Date.parse(current.holder.expiresAt) > now.getTime()) return { acquired: false, holder: current.holder };
    try {
      await blob.upload(body, Buffer.byteLength(body), current ? { conditions: { ifMatch: current.etag } } : { conditions: { ifNoneMatch: '*' } });
      return { acquired: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const winner = await this.read();
      return winner ? { acquired: false, holder: winner.holder } : this.acquire(scanId, trigger);
    }
  }

  /** Releases the lock if `scanId` still holds it. */
  async release(scanId: string): Promise<void> {
    const current = await this.read();
    if (!current || current.holder.scanId !== scanId) return;
    try {
      await this.container.getBlobClient(LOCK_BLOB).delete({ conditions: { ifMatch: current.etag } });
    } catch (error) {
      if (!isConditionFailure(error) && (error as RestError).statusCode !== 404) throw error;
    }
  }
}
