import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import type { WebhookFormat } from '../config/alerts.js';
import { JsonBlobs } from '../store/json.js';

/**
 * What alerting remembers: which deliveries were made (so the same transition is never sent twice)
 * and the dead letters (deliveries that failed after every attempt, kept for `alerts replay`).
 *
 * Layout (Blob container or directory): `alerts/sent/{deliveryId}.json`, `deadletter/{date}/{deliveryId}.json`.
 * A dead letter holds the body and the last error, never the URL or the secret.
 */

/** Minimal key/value storage over Blob or a directory. Keys are `/`-separated paths. */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
}

export class BlobKeyValueStore implements KeyValueStore {
  private readonly blobs: JsonBlobs;
  constructor(private readonly container: ContainerClient) {
    this.blobs = new JsonBlobs(container);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.blobs.readText(key))?.value;
  }

  async put(key: string, value: string): Promise<void> {
    await this.container.createIfNotExists();
    await this.blobs.writeText(key, value);
  }

  async delete(key: string): Promise<void> {
    await this.container.getBlobClient(key).deleteIfExists();
  }

  async list(prefix: string): Promise<string[]> {
    if (!(await this.container.exists())) return [];
    const out: string[] = [];
    for await (const b of this.container.listBlobsFlat({ prefix })) out.push(b.name);
    return out.sort();
  }
}

export class DirectoryKeyValueStore implements KeyValueStore {
  constructor(private readonly root: string) {}
  private path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async put(key: string, value: string): Promise<void> {
    await mkdir(dirname(this.path(key)), { recursive: true });
    await writeFile(this.path(key), value, 'utf8');
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.path(prefix.replace(/\/$/, ''));
    let entries: string[];
    try {
      entries = (await readdir(base, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return entries.map((p) => relative(this.root, p).split(sep).join('/')).sort();
  }
}

/** A failed delivery, kept for replay. */
export interface DeadLetter {
  readonly deliveryId: string;
  readonly webhook: string;
  readonly format: WebhookFormat;
  readonly contentType: string;
  readonly body: string;
  readonly createdAt: string;
  readonly attempts: number;
  readonly lastError: string;
}

/** Characters allowed in a delivery ID used as a key. */
export function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
}

export class AlertLedger {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async wasSent(deliveryId: string): Promise<boolean> {
    return (await this.kv.get(`alerts/sent/${safeId(deliveryId)}.json`)) !== undefined;
  }

  async markSent(deliveryId: string, outcome: 'delivered' | 'dead-lettered'): Promise<void> {
    await this.kv.put(`alerts/sent/${safeId(deliveryId)}.json`, JSON.stringify({ deliveryId, outcome, at: this.now().toISOString() }));
  }

  /** Stores a dead letter; returns its key. */
  async deadLetter(letter: DeadLetter): Promise<string> {
    const key = `deadletter/${letter.createdAt.slice(0, 10)}/${safeId(letter.deliveryId)}.json`;
    await this.kv.put(key, JSON.stringify(letter, null, 2));
    return key;
  }

  async deadLetters(): Promise<Array<{ key: string; letter: DeadLetter }>> {
    const out: Array<{ key: string; letter: DeadLetter }> = [];
    for (const key of await this.kv.list('deadletter/')) {
      const text = await this.kv.get(key);
      if (text !== undefined) out.push({ key, letter: JSON.parse(text) as DeadLetter });
    }
    return out;
  }

  async updateDeadLetter(key: string, letter: DeadLetter): Promise<void> {
    await this.kv.put(key, JSON.stringify(letter, null, 2));
  }

  async removeDeadLetter(key: string): Promise<void> {
    await this.kv.delete(key);
  }
}
