import type { RestError } from '@azure/core-rest-pipeline';
import type { ContainerClient } from '@azure/storage-blob';

/**
 * JSON documents in Blob Storage with optimistic concurrency: the one implementation of "read a JSON
 * blob (404 → none), write it on a condition (its ETag, or its absence), a 409/412 is a lost race"
 * used by the scan store, the shard plan and parts, the account states, the alert ledger and the
 * locks. Conditions are Blob Storage's `If-Match` / `If-None-Match: *` (Azure docs, "Managing
 * concurrency in Blob Storage").
 */

/** A JSON document and the ETag it was read at. */
export interface JsonRead<T> {
  readonly value: T;
  readonly etag: string;
}

/**
 * When a write may happen: `any` (unconditional), `absent` (create only: If-None-Match: *), or
 * `{ etag }` (only if unchanged since read: If-Match).
 */
export type WriteCondition = 'any' | 'absent' | { readonly etag: string };

/** True for Blob Storage's answer to a failed condition or a concurrent create (409, 412). */
export function isLostRace(error: unknown): boolean {
  const status = (error as RestError | undefined)?.statusCode;
  return status === 409 || status === 412;
}

/** True for a blob or container that does not exist (404). */
export function isNotFound(error: unknown): boolean {
  return (error as RestError | undefined)?.statusCode === 404;
}

/** JSON blobs of one container. */
export class JsonBlobs {
  constructor(readonly container: ContainerClient) {}

  /** A blob's text and ETag; undefined when it does not exist. @throws storage errors other than 404 */
  async readText(name: string): Promise<JsonRead<string> | undefined> {
    try {
      const response = await this.container.getBlobClient(name).download();
      const chunks: Buffer[] = [];
      for await (const c of response.readableStreamBody ?? []) chunks.push(Buffer.from(c as Buffer));
      return { value: Buffer.concat(chunks).toString('utf8'), etag: response.etag ?? '' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * A JSON blob and its ETag; undefined when it does not exist.
   * @throws storage errors other than 404; SyntaxError naming the blob when it is not JSON
   */
  async read<T>(name: string): Promise<JsonRead<T> | undefined> {
    const text = await this.readText(name);
    if (!text) return undefined;
    try {
      return { value: JSON.parse(text.value) as T, etag: text.etag };
    } catch (error) {
      throw new SyntaxError(`blob ${name} is not JSON: ${(error as Error).message}`);
    }
  }

  /** The value of a JSON blob, or undefined when it does not exist. */
  async value<T>(name: string): Promise<T | undefined> {
    return (await this.read<T>(name))?.value;
  }

  /**
   * Writes a text blob on a condition. @returns false when the condition failed (a lost race: re-read
   * and retry); true when written. @throws other storage errors
   */
  async writeText(name: string, text: string, condition: WriteCondition = 'any', contentType = 'application/json'): Promise<boolean> {
    const conditions = condition === 'any' ? undefined : condition === 'absent' ? { ifNoneMatch: '*' } : { ifMatch: condition.etag };
    try {
      await this.container.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), {
        blobHTTPHeaders: { blobContentType: contentType },
        ...(conditions ? { conditions } : {}),
      });
      return true;
    } catch (error) {
      if (conditions && isLostRace(error)) return false;
      throw error;
    }
  }

  /** Writes a JSON blob on a condition (see `writeText`); `pretty` indents it for people reading it. */
  async write(name: string, value: unknown, condition: WriteCondition = 'any', pretty = false): Promise<boolean> {
    return this.writeText(name, pretty ? `${JSON.stringify(value, null, 2)}\n` : JSON.stringify(value), condition);
  }

  async exists(name: string): Promise<boolean> {
    return this.container.getBlobClient(name).exists();
  }

  /** Deletes a blob (when unchanged since `etag`, if given). @returns false when absent or changed. */
  async delete(name: string, etag?: string): Promise<boolean> {
    try {
      await this.container.getBlobClient(name).delete(etag ? { conditions: { ifMatch: etag } } : {});
      return true;
    } catch (error) {
      if (isNotFound(error) || isLostRace(error)) return false;
      throw error;
    }
  }

  /**
   * Read-modify-write with retries on lost races: `change` gets the current value (undefined when
   * absent) and returns the next one, or undefined to write nothing.
   * @returns the value written, or undefined when `change` declined
   * @throws Error naming the blob after `attempts` lost races
   */
  async update<T>(name: string, change: (current: T | undefined) => T | undefined, attempts = 20): Promise<T | undefined> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const current = await this.read<T>(name);
      const next = change(current?.value);
      if (next === undefined) return undefined;
      if (await this.write(name, next, current ? { etag: current.etag } : 'absent')) return next;
    }
    throw new Error(`${name}: too many concurrent updates`);
  }
}

/** What a lock holder records; `expiresAt` (ISO 8601) is when others may take the lock over. */
export interface LeaseRecord {
  readonly expiresAt: string;
}

/**
 * A lock held by one blob, created with If-None-Match: * so two callers can never both hold it; a
 * holder that died is replaced once its `expiresAt` has passed (the take-over is conditional on the
 * old ETag, so two callers cannot both take it over). Used for "a scan is running" and for the
 * commit of a fanned-out scan.
 */
export class BlobLease<H extends LeaseRecord> {
  constructor(
    private readonly blobs: JsonBlobs,
    private readonly name: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The holder's record and ETag, live or expired; undefined when free. */
  async read(): Promise<JsonRead<H> | undefined> {
    return this.blobs.read<H>(this.name);
  }

  /** The live holder, if any (an expired holder is not live). */
  async holder(): Promise<H | undefined> {
    const current = await this.read();
    return current && Date.parse(current.value.expiresAt) > this.now().getTime() ? current.value : undefined;
  }

  /**
   * Takes the lock with `record` if it is free or expired.
   * @returns acquired, or the live holder that kept it. @throws storage errors other than a lost race
   */
  async acquire(record: H): Promise<{ acquired: true } | { acquired: false; holder: H }> {
    await this.blobs.container.createIfNotExists();
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await this.blobs.write(this.name, record, 'absent')) return { acquired: true };
      const current = await this.read();
      if (current && Date.parse(current.value.expiresAt) > this.now().getTime()) return { acquired: false, holder: current.value };
      if (await this.blobs.write(this.name, record, current ? { etag: current.etag } : 'absent')) return { acquired: true };
    }
    const winner = await this.read();
    if (winner) return { acquired: false, holder: winner.value };
    throw new Error(`${this.name}: too many concurrent takers`);
  }

  /** Releases the lock if `holds(record)` says the caller still holds it. */
  async release(holds: (record: H) => boolean): Promise<void> {
    const current = await this.read();
    if (current && holds(current.value)) await this.blobs.delete(this.name, current.etag);
  }
}
