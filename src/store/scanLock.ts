import type { ContainerClient } from '@azure/storage-blob';
import { BlobLease, JsonBlobs } from './json.js';

/**
 * "A scan is running": one blob, `locks/scan.json`, held through `BlobLease` (created with
 * If-None-Match: *, so two triggers can never both believe they hold it; a holder that died is
 * replaced once its `expiresAt` has passed).
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

export class ScanLock {
  private readonly lease: BlobLease<LockHolder>;

  /**
   * @param ttlMs how long a holder keeps the lock without releasing it (ms); default 2 hours, beyond
   *   any scan's function timeout.
   */
  constructor(
    container: ContainerClient,
    private readonly ttlMs = 2 * 60 * 60 * 1000,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.lease = new BlobLease(new JsonBlobs(container), LOCK_BLOB, now);
  }

  /** The live holder, if any (an expired holder is not live). */
  async holder(): Promise<LockHolder | undefined> {
    return this.lease.holder();
  }

  /** Tries to take the lock for `scanId`. @throws on storage errors other than a lost race. */
  async acquire(scanId: string, trigger: string): Promise<AcquireResult> {
    const now = this.now();
    return this.lease.acquire({ scanId, trigger, startedAt: now.toISOString(), expiresAt: new Date(now.getTime() + this.ttlMs).toISOString() });
  }

  /** Releases the lock if `scanId` still holds it. */
  async release(scanId: string): Promise<void> {
    await this.lease.release((h) => h.scanId === scanId);
  }
}
