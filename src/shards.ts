import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import type { AzureClients } from './collect/clients.js';
import { type ContextTables, type ProgressLog, ScanSetupError } from './collect/collector.js';
import { type AfterCommit, commitScan, type PartToCommit } from './pipeline/commit.js';
import { type PlannedScan, planPolicy, type ScanPlan, sumRequests } from './pipeline/plan.js';
import { evaluateShard, prepareContext, type ShardPart } from './pipeline/shard.js';
import type { AccessLogReading, CosmosRoleAssignments } from './domain/snapshot.js';
import type { AccountState } from './store/accountState.js';
import { readFindings, readJsonLines, writeChunk } from './store/artifact.js';
import { BlobLease, JsonBlobs } from './store/json.js';
import { isScanId } from './store/scanDocument.js';
import { BlobStore } from './store/stores.js';

/**
 * Fan-out beyond one invocation (docs/architecture.md): the pipeline's steps run in queue workers.
 * The timer plans the scan (pipeline/plan.ts) and, above `SHARD_ABOVE_SUBSCRIPTIONS`, stores the plan
 * and its context and puts one message per shard on the `scan-shards` Storage queue. A
 * queue-triggered worker evaluates its shard (pipeline/shard.ts) under the plan's policy and writes
 * its part; the worker that finds every part present runs the one commit (pipeline/commit.ts).
 * Blob layout under `scans/{scanId}/shards/`: `plan.json`, `context.json`, `accessLogs.json` (NSP-07),
 * `cosmosRoleAssignments.json` (ID-02, ID-04), `parts/{n}.ndjson`,
 * `parts/{n}.states.ndjson`, then `parts/{n}.json` (the part's commit point), `commit.lock`. Open
 * plans are listed under `shards/open/{scanId}.json` until committed.
 */

/** The queue shard messages go to (connection: AzureWebJobsStorage, the Function App's storage). */
export const SHARD_QUEUE = 'scan-shards';
/** Where messages that can never succeed are moved, with the reason (the host's `-poison` convention). */
export const SHARD_POISON_QUEUE = `${SHARD_QUEUE}-poison`;

/** A shard message: which scan, which shard. */
export const ShardMessageSchema = z.object({ scanId: z.string().refine(isScanId, 'a scanId'), shard: z.number().int().min(0).max(100_000) }).strict();
export type ShardMessage = z.infer<typeof ShardMessageSchema>;

/** A stored plan: the scan's plan and when its missing shards are given up on. */
export type StoredPlan = ScanPlan & {
  /** After this time (ISO 8601) a scan with missing parts is committed as `partial`. */
  readonly deadline: string;
};

const base = (scanId: string) => `scans/${scanId}/shards`;
const openPointer = (scanId: string) => `shards/open/${scanId}.json`;
const partName = (scanId: string, index: number) => `${base(scanId)}/parts/${index}`;

/**
 * Stores a plan and its context, and enqueues one message per shard (base64 JSON, the Functions
 * host's default message encoding).
 * @throws storage or queue errors
 */
export async function enqueueShards(o: {
  planned: PlannedScan;
  container: ContainerClient;
  queue: QueueClient;
  /** How long shards may take before the scan is committed as partial (ms). */
  timeoutMs: number;
  log: ProgressLog;
}): Promise<StoredPlan> {
  const { plan, context, accessLogs, cosmosRoleAssignments } = o.planned;
  if (!context) throw new Error(`the plan of scan ${plan.scanId} kept no context rows to store (plan it with keepContext)`);
  const stored: StoredPlan = { ...plan, deadline: new Date(Date.parse(plan.startedAt) + o.timeoutMs).toISOString() };
  const blobs = new JsonBlobs(o.container);
  await o.container.createIfNotExists();
  await blobs.write(`${base(plan.scanId)}/context.json`, context);
  await blobs.write(`${base(plan.scanId)}/accessLogs.json`, accessLogs);
  await blobs.write(`${base(plan.scanId)}/cosmosRoleAssignments.json`, cosmosRoleAssignments);
  await blobs.write(`${base(plan.scanId)}/plan.json`, stored);
  await blobs.write(openPointer(plan.scanId), { scanId: plan.scanId, deadline: stored.deadline });
  await o.queue.createIfNotExists();
  for (const shard of plan.shards) {
    const message: ShardMessage = { scanId: plan.scanId, shard: shard.index };
    await o.queue.sendMessage(Buffer.from(JSON.stringify(message), 'utf8').toString('base64'));
  }
  o.log(`scan ${plan.scanId}: ${plan.shards.length} shard message(s) queued`);
  return stored;
}

/**
 * Reads a shard message as the host delivers it (an object, JSON text, or base64 JSON text).
 * @returns the message, or why it is malformed (it can never succeed: move it to the poison queue).
 */
export function parseShardMessage(raw: unknown): ShardMessage | { error: string } {
  let value = raw;
  if (typeof value === 'string') {
    const text = /^[A-Za-z0-9+/=\s]+$/.test(value) && !/^\s*\{/.test(value) ? Buffer.from(value, 'base64').toString('utf8') : value;
    try {
      value = JSON.parse(text);
    } catch {
      return { error: 'the message is not JSON' };
    }
  }
  const r = ShardMessageSchema.safeParse(value);
  return r.success ? r.data : { error: `malformed shard message (${r.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ')})` };
}

/** Moves a message that can never succeed to the poison queue, with the reason. */
export async function poisonShardMessage(poison: QueueClient, raw: unknown, reason: string): Promise<void> {
  await poison.createIfNotExists();
  const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
  const record = { reason, at: new Date().toISOString(), message: (text ?? '').slice(0, 4000) };
  await poison.sendMessage(Buffer.from(JSON.stringify(record), 'utf8').toString('base64'));
}

/** Thrown for a message about a scan whose plan does not exist (never succeeds: poison it). */
export class UnknownShardError extends Error {}

/** What a queue worker and the fan-in commit need besides the message. */
export interface ShardWorkerOptions {
  readonly container: ContainerClient;
  readonly log: ProgressLog;
  /** The digest and account states, as a single-process scan's (pipeline/commit.ts). */
  readonly afterCommit?: AfterCommit | undefined;
  readonly now?: () => Date;
}

/**
 * Scans one shard and writes its part, then commits the scan when every part is present. The shard
 * is evaluated under the plan's policy and deep-inspection switch, not the worker's settings.
 * Idempotent: a shard whose part exists is not scanned again; a committed scan is left alone.
 * @throws UnknownShardError for a scan or shard not in any plan; other errors are transient (the
 *   queue delivers the message again, and after its retries moves it to the poison queue).
 */
export async function runShard(
  message: ShardMessage,
  o: ShardWorkerOptions & { clients: AzureClients; deepConcurrency?: number; workDir?: string },
): Promise<'scanned' | 'already-scanned' | 'already-committed'> {
  const now = o.now ?? (() => new Date());
  const blobs = new JsonBlobs(o.container);
  const plan = await blobs.value<StoredPlan>(`${base(message.scanId)}/plan.json`);
  if (!plan || !plan.shards.some((s) => s.index === message.shard)) throw new UnknownShardError(`no plan for scan ${message.scanId} shard ${message.shard}`);
  if (await blobs.exists(`scans/${message.scanId}/scan.json`)) return 'already-committed';
  const name = partName(message.scanId, message.shard);
  if (await blobs.exists(`${name}.json`)) {
    o.log(`shard ${message.shard} of ${message.scanId} was already scanned`);
    await commitShardedScan(message.scanId, o);
    return 'already-scanned';
  }
  const context = await blobs.value<ContextTables>(`${base(message.scanId)}/context.json`);
  if (!context) throw new UnknownShardError(`scan ${message.scanId} has no context`);
  const shard = await evaluateShard({
    plan,
    index: message.shard,
    // Written with the context; a plan stored before NSP-07 existed has none (its shards judge NSP-07 unknown).
    context: prepareContext(context, (await blobs.value<Record<string, AccessLogReading>>(`${base(message.scanId)}/accessLogs.json`)) ?? {}, {
      ...optional('cosmosRoleAssignments', await blobs.value<CosmosRoleAssignments>(`${base(message.scanId)}/cosmosRoleAssignments.json`)),
      ...optional('cloud', plan.cloud),
    }),
    policy: planPolicy(plan),
    clients: o.clients,
    log: o.log,
    now,
    deepConcurrency: o.deepConcurrency ?? 8,
    ...(o.workDir ? { workDir: o.workDir } : {}),
  });
  try {
    const upload = { blockSize: 4 * 1024 * 1024, concurrency: 2 };
    await o.container.getBlockBlobClient(`${name}.ndjson`).uploadFile(shard.findingsFile, upload);
    await o.container.getBlockBlobClient(`${name}.states.ndjson`).uploadFile(shard.statesFile, upload);
  } finally {
    await Promise.all([rm(shard.findingsFile, { force: true }), rm(shard.statesFile, { force: true })]);
  }
  // The part's summary is written last: its presence says the part is complete.
  await blobs.write(`${name}.json`, shard.part);
  o.log(`shard ${message.shard} of ${message.scanId}: ${shard.part.accounts} account(s)`);
  await commitShardedScan(message.scanId, o);
  return 'scanned';
}

/** How long a commit lock is honoured before another worker may take the commit over (ms). */
const COMMIT_LOCK_MS = 15 * 60_000;

/**
 * Commits a fanned-out scan when every part is present, or (with `force`, after the plan's deadline)
 * with the parts there are: the missing shards' subscriptions are `unreadable` and the scan `partial`.
 * The commit is the single-process scan's (pipeline/commit.ts): the same scan.json, reports,
 * baseline, digest and account states. One worker commits: the others see the lock and return.
 * @returns what happened; never commits twice.
 */
export async function commitShardedScan(scanId: string, o: ShardWorkerOptions & { force?: boolean }): Promise<'committed' | 'waiting' | 'elsewhere' | 'nothing-read'> {
  const now = o.now ?? (() => new Date());
  const blobs = new JsonBlobs(o.container);
  const plan = await blobs.value<StoredPlan>(`${base(scanId)}/plan.json`);
  if (!plan) throw new UnknownShardError(`no plan for scan ${scanId}`);
  const present = await Promise.all(plan.shards.map(async (s) => ((await blobs.exists(`${partName(scanId, s.index)}.json`)) ? s.index : undefined)));
  const missing = plan.shards.filter((s) => !present.includes(s.index));
  if (missing.length > 0 && !o.force) return 'waiting';
  const lease = new BlobLease<{ expiresAt: string }>(blobs, `${base(scanId)}/commit.lock`, now);
  if (!(await lease.acquire({ expiresAt: new Date(now().getTime() + COMMIT_LOCK_MS).toISOString() })).acquired) return 'elsewhere';
  if (await blobs.exists(`scans/${scanId}/scan.json`)) return 'elsewhere';
  const parts: PartToCommit[] = [];
  for (const shard of plan.shards) {
    const name = partName(scanId, shard.index);
    const part = await blobs.value<ShardPart>(`${name}.json`);
    if (!part) continue;
    const download = async () => {
      const response = await o.container.getBlobClient(`${name}.ndjson`).download();
      if (!response.readableStreamBody) throw new Error(`part ${shard.index} of scan ${scanId} has no body`);
      return response.readableStreamBody as unknown as Readable;
    };
    parts.push({
      part,
      findings: async function* () {
        yield* readFindings(await download());
      },
      copyFindings: async (out) => {
        for await (const chunk of await download()) await writeChunk(out, chunk as Buffer);
      },
      states: async function* () {
        const response = await o.container.getBlobClient(`${name}.states.ndjson`).download();
        if (!response.readableStreamBody) throw new Error(`part ${shard.index} of scan ${scanId} has no states body`);
        yield* readJsonLines<AccountState>(response.readableStreamBody as unknown as Readable);
      },
    });
  }
  const minutes = Math.round((Date.parse(plan.deadline) - Date.parse(plan.startedAt)) / 60_000);
  let committed = false;
  try {
    await commitScan({
      plan,
      parts,
      missing: { shards: missing, reason: (shard) => `shard ${shard} did not report within ${minutes} minutes` },
      stores: [new BlobStore(o.container)],
      afterCommit: o.afterCommit,
      requests: sumRequests([plan.requests, ...parts.map((p) => p.part.requests)]),
      log: o.log,
      now,
    });
    committed = true;
  } catch (error) {
    // A fanned-out scan that read no subscription is not committed, as a single-process one is not:
    // latest.json stays on the previous scan.
    if (!(error instanceof ScanSetupError)) throw error;
    await blobs.delete(openPointer(scanId));
    o.log(`scan ${scanId} not committed: ${error.message}`);
    return 'nothing-read';
  } finally {
    // A commit that failed (a transient storage error) frees the lock for the queue's next delivery.
    if (!committed) await lease.release(() => true).catch(() => undefined);
  }
  await blobs.delete(openPointer(scanId));
  return 'committed';
}

/**
 * Commits every open fanned-out scan whose deadline has passed, as `partial` when parts are missing
 * (called by the timer before it plans the next scan). Errors are logged per scan, not thrown.
 * @returns the scanIds committed
 */
export async function finalizeOverdueScans(o: ShardWorkerOptions): Promise<string[]> {
  const now = o.now ?? (() => new Date());
  const committed: string[] = [];
  if (!(await o.container.exists())) return committed;
  const blobs = new JsonBlobs(o.container);
  for await (const blob of o.container.listBlobsFlat({ prefix: 'shards/open/' })) {
    const pointer = await blobs.value<{ scanId: string; deadline: string }>(blob.name);
    if (!pointer || Date.parse(pointer.deadline) > now().getTime()) continue;
    try {
      if ((await commitShardedScan(pointer.scanId, { ...o, force: true })) === 'committed') committed.push(pointer.scanId);
    } catch (error) {
      o.log(`overdue scan ${pointer.scanId} could not be committed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return committed;
}

/** `{ [key]: value }`, or nothing when the value is absent. */
function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Partial<Record<K, V>>);
}
