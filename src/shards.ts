import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { RestError } from '@azure/core-rest-pipeline';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import type { AzureClients } from './collect/clients.js';
import { collectAccounts, collectContext, type ContextTables, MAX_SUBSCRIPTIONS_PER_QUERY, type ProgressLog, type ScanScope } from './collect/collector.js';
import { type SubscriptionCoverage, TABLES } from './collect/inventory.js';
import type { Policy } from './config/policy.js';
import { catalogEntry } from './domain/rule.js';
import { SummaryBuilder } from './engine/summary.js';
import { REPORT_FORMATS, reportArtifacts } from './reports/index.js';
import { evaluateInventory } from './scan.js';
import { type Artifact, type FindingSource, readFindings, writeChunk } from './store/artifact.js';
import { isScanId, type ScanDocument } from './store/scanDocument.js';
import { scanOutcomeLine } from './reports/coverage.js';
import { BlobStore } from './store/stores.js';

/**
 * Fan-out beyond one invocation (ARCHITECTURE.md, "Scale path"). A planner reads the subscriptions
 * in scope and the context tables once (what account rows are joined with: associations, access
 * rules, role assignments, storage accounts, wherever they live), stores them beside a plan, and
 * puts one message per shard (at most 300 subscriptions) on the `scan-shards` Storage queue. A
 * queue-triggered worker reads its shard's accounts, evaluates them against the stored context and
 * writes its part; the worker that finds every part present commits the scan (merged findings,
 * summary, reports, `latest.json` last). Blob layout under `scans/{scanId}/shards/`:
 * `plan.json`, `context.json`, `parts/{n}.ndjson` then `parts/{n}.json` (the part's commit point),
 * `commit.lock`. Open plans are listed under `shards/open/{scanId}.json` until committed.
 */

/** The queue shard messages go to (connection: AzureWebJobsStorage, the Function App's storage). */
export const SHARD_QUEUE = 'scan-shards';
/** Where messages that can never succeed are moved, with the reason (the host's `-poison` convention). */
export const SHARD_POISON_QUEUE = `${SHARD_QUEUE}-poison`;

/** A shard message: which scan, which shard. */
export const ShardMessageSchema = z.object({ scanId: z.string().refine(isScanId, 'a scanId'), shard: z.number().int().min(0).max(100_000) }).strict();
export type ShardMessage = z.infer<typeof ShardMessageSchema>;

/** The plan of a fanned-out scan. */
export interface ShardPlan {
  readonly schemaVersion: 1;
  readonly scanId: string;
  readonly startedAt: string;
  /** After this time (ISO 8601) a scan with missing parts is committed as `partial`. */
  readonly deadline: string;
  readonly scope: ScanScope;
  readonly deepInspection: boolean;
  /** Subscriptions the planner could not read (not sharded). */
  readonly unreadable: readonly SubscriptionCoverage[];
  readonly shards: ReadonlyArray<{ readonly index: number; readonly subscriptions: readonly string[] }>;
  /** Context tables' read status: table type → failure, when a table was not fully read. */
  readonly contextFailures: Readonly<Record<string, string>>;
  readonly graphRequests: number;
}

/** A shard's result summary, written after its findings. */
export interface ShardPart {
  readonly index: number;
  readonly subscriptions: readonly SubscriptionCoverage[];
  readonly accounts: number;
  readonly accountRows: number;
  readonly problems: readonly string[];
  readonly deepRead: number;
  readonly deepFailed: number;
  readonly rules: ScanDocument['rules'];
  readonly graphRequests: number;
  readonly armRequests: number;
  readonly throttled: number;
}

const base = (scanId: string) => `scans/${scanId}/shards`;
const openPointer = (scanId: string) => `shards/open/${scanId}.json`;

async function readJson<T>(container: ContainerClient, name: string): Promise<T | undefined> {
  try {
    return JSON.parse((await container.getBlobClient(name).downloadToBuffer()).toString('utf8')) as T;
  } catch (error) {
    if ((error as RestError).statusCode === 404) return undefined;
    throw error;
  }
}

async function putJson(container: ContainerClient, name: string, value: unknown, conditions?: { ifNoneMatch?: string; ifMatch?: string }): Promise<void> {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  await container.getBlockBlobClient(name).upload(body, body.length, {
    blobHTTPHeaders: { blobContentType: 'application/json' },
    ...(conditions ? { conditions } : {}),
  });
}

/**
 * Plans a fanned-out scan: reads the scope and context, writes plan and context, enqueues one
 * message per shard (base64 JSON, the Functions host's default message encoding).
 * @throws ScanSetupError when the subscriptions cannot be listed; storage or queue errors.
 */
export async function planShardedScan(o: {
  scanId: string;
  scope: ScanScope;
  policy: Policy;
  clients: AzureClients;
  container: ContainerClient;
  queue: QueueClient;
  /** How long shards may take before the scan is committed as partial (ms). */
  timeoutMs: number;
  log: ProgressLog;
  now?: () => Date;
}): Promise<ShardPlan> {
  const now = o.now ?? (() => new Date());
  const started = now();
  const before = o.clients.graphStats.requests;
  const { subscriptions, tables } = await collectContext(o.clients.graph, o.scope, o.log, {
    subscriptions: o.policy.scope.exclude.subscriptions,
    managementGroups: o.policy.scope.exclude.managementGroups,
  });
  const readable = subscriptions.filter((s) => s.status === 'read').map((s) => s.id);
  const shards = [];
  for (let i = 0; i < readable.length; i += MAX_SUBSCRIPTIONS_PER_QUERY)
    shards.push({ index: shards.length, subscriptions: readable.slice(i, i + MAX_SUBSCRIPTIONS_PER_QUERY) });
  const contextFailures: Record<string, string> = {};
  for (const [name, t] of Object.entries(tables)) if (t.failure !== undefined) contextFailures[TABLES[name as keyof ContextTables].type] = t.failure;
  const plan: ShardPlan = {
    schemaVersion: 1,
    scanId: o.scanId,
    startedAt: started.toISOString(),
    deadline: new Date(started.getTime() + o.timeoutMs).toISOString(),
    scope: o.scope,
    deepInspection: o.policy.parameters.deepInspection,
    unreadable: subscriptions.filter((s) => s.status !== 'read'),
    shards,
    contextFailures,
    graphRequests: o.clients.graphStats.requests - before,
  };
  await o.container.createIfNotExists();
  await putJson(o.container, `${base(o.scanId)}/context.json`, tables);
  await putJson(o.container, `${base(o.scanId)}/plan.json`, plan);
  await putJson(o.container, openPointer(o.scanId), { scanId: o.scanId, deadline: plan.deadline });
  await o.queue.createIfNotExists();
  for (const shard of shards) {
    const message: ShardMessage = { scanId: o.scanId, shard: shard.index };
    await o.queue.sendMessage(Buffer.from(JSON.stringify(message), 'utf8').toString('base64'));
  }
  o.log(`scan ${o.scanId} planned: ${readable.length} subscription(s) in ${shards.length} shard(s)`);
  return plan;
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

/**
 * Scans one shard and writes its part, then commits the scan when every part is present.
 * Idempotent: a shard whose part exists is not scanned again; a committed scan is left alone.
 * @throws UnknownShardError for a scan or shard not in any plan; other errors are transient (the
 *   queue delivers the message again, and after its retries moves it to the poison queue).
 */
export async function runShard(message: ShardMessage, o: {
  container: ContainerClient;
  clients: AzureClients;
  policy: Policy;
  log: ProgressLog;
  deepConcurrency?: number;
  workDir?: string;
  now?: () => Date;
}): Promise<'scanned' | 'already-scanned' | 'already-committed'> {
  const now = o.now ?? (() => new Date());
  const plan = await readJson<ShardPlan>(o.container, `${base(message.scanId)}/plan.json`);
  const shard = plan?.shards.find((s) => s.index === message.shard);
  if (!plan || !shard) throw new UnknownShardError(`no plan for scan ${message.scanId} shard ${message.shard}`);
  if (await o.container.getBlobClient(`scans/${message.scanId}/scan.json`).exists()) return 'already-committed';
  const partName = `${base(message.scanId)}/parts/${shard.index}`;
  if (await o.container.getBlobClient(`${partName}.json`).exists()) {
    o.log(`shard ${shard.index} of ${message.scanId} was already scanned`);
    await commitShardedScan(message.scanId, o);
    return 'already-scanned';
  }
  const context = await readJson<ContextTables>(o.container, `${base(message.scanId)}/context.json`);
  if (!context) throw new UnknownShardError(`scan ${message.scanId} has no context`);
  const stats = o.clients;
  const before = { graph: stats.graphStats.requests, arm: stats.armStats.requests, throttled: stats.graphStats.throttled + stats.armStats.throttled };
  const read = await collectAccounts(o.clients.graph, shard.subscriptions, o.log);
  const policy = { ...o.policy, parameters: { ...o.policy.parameters, deepInspection: plan.deepInspection } };
  const evaluated = await evaluateInventory({
    raw: { subscriptions: read.subscriptions, tables: { ...context, accounts: read.accounts } },
    policy,
    clients: o.clients,
    scanId: message.scanId,
    log: o.log,
    now,
    deepConcurrency: o.deepConcurrency ?? 8,
    ...(o.workDir ? { workDir: o.workDir } : {}),
    retainFindings: false,
    keepStates: false,
  });
  try {
    await o.container.getBlockBlobClient(`${partName}.ndjson`).uploadFile(evaluated.spill, { blockSize: 4 * 1024 * 1024, concurrency: 2 });
  } finally {
    await rm(evaluated.spill, { force: true });
  }
  const part: ShardPart = {
    index: shard.index,
    subscriptions: read.subscriptions,
    accounts: evaluated.accountCount,
    accountRows: read.accounts.rows.length,
    problems: evaluated.problems,
    deepRead: evaluated.deepRead,
    deepFailed: evaluated.deepFailed,
    rules: evaluated.rules.map(catalogEntry),
    graphRequests: o.clients.graphStats.requests - before.graph,
    armRequests: o.clients.armStats.requests - before.arm,
    throttled: o.clients.graphStats.throttled + o.clients.armStats.throttled - before.throttled,
  };
  await putJson(o.container, `${partName}.json`, part);
  o.log(`shard ${shard.index} of ${message.scanId}: ${part.accounts} account(s)`);
  await commitShardedScan(message.scanId, o);
  return 'scanned';
}

/** How long a commit lock is honoured before another worker may take the commit over (ms). */
const COMMIT_LOCK_MS = 15 * 60_000;

/**
 * Commits a fanned-out scan when every part is present, or (with `force`, after the plan's deadline)
 * with the parts there are: the missing shards' subscriptions are `unreadable` and the scan `partial`.
 * One worker commits: the others see the lock and return.
 * @returns what happened; never commits twice.
 */
export async function commitShardedScan(
  scanId: string,
  o: { container: ContainerClient; log: ProgressLog; now?: () => Date; force?: boolean },
): Promise<'committed' | 'waiting' | 'elsewhere' | 'nothing-read'> {
  const now = o.now ?? (() => new Date());
  const plan = await readJson<ShardPlan>(o.container, `${base(scanId)}/plan.json`);
  if (!plan) throw new UnknownShardError(`no plan for scan ${scanId}`);
  const parts: ShardPart[] = [];
  for (const shard of plan.shards) {
    const part = await readJson<ShardPart>(o.container, `${base(scanId)}/parts/${shard.index}.json`);
    if (part) parts.push(part);
  }
  const missing = plan.shards.filter((s) => !parts.some((p) => p.index === s.index));
  if (missing.length > 0 && !o.force) return 'waiting';
  // The commit lock: created once; a lock older than COMMIT_LOCK_MS (a worker that died committing) is taken over.
  const lockName = `${base(scanId)}/commit.lock`;
  try {
    await putJson(o.container, lockName, { at: now().toISOString() }, { ifNoneMatch: '*' });
  } catch (error) {
    const status = (error as RestError).statusCode;
    if (status !== 409 && status !== 412) throw error;
    if (await o.container.getBlobClient(`scans/${scanId}/scan.json`).exists()) return 'elsewhere';
    const props = await o.container.getBlobClient(lockName).getProperties();
    const held = await readJson<{ at: string }>(o.container, lockName);
    if (!held || now().getTime() - Date.parse(held.at) < COMMIT_LOCK_MS) return 'elsewhere';
    try {
      await putJson(o.container, lockName, { at: now().toISOString() }, { ifMatch: props.etag ?? '' });
    } catch {
      return 'elsewhere';
    }
  }
  parts.sort((a, b) => a.index - b.index);
  const partFindings = (index: number) => o.container.getBlobClient(`${base(scanId)}/parts/${index}.ndjson`);
  const source: FindingSource = async function* () {
    for (const p of parts) {
      const response = await partFindings(p.index).download();
      if (!response.readableStreamBody) throw new Error(`part ${p.index} has no body`);
      yield* readFindings(response.readableStreamBody as unknown as Readable);
    }
  };
  const rules = parts[0]?.rules ?? [];
  const summary = new SummaryBuilder(rules.map((r) => r.id));
  for await (const f of source()) summary.add(f);
  const minutes = Math.round((Date.parse(plan.deadline) - Date.parse(plan.startedAt)) / 60_000);
  const subscriptions: SubscriptionCoverage[] = [
    ...plan.unreadable,
    ...parts.flatMap((p) => p.subscriptions),
    ...missing.flatMap((s) => s.subscriptions.map((id) => ({ id, status: 'unreadable' as const, reason: `shard ${s.index} did not report within ${minutes} minutes` }))),
  ];
  // A fanned-out scan that read no subscription is not committed, as a single-process one is not
  // (collector.ts `requireReadable`): latest.json stays on the previous scan.
  if (!subscriptions.some((s) => s.status === 'read')) {
    await o.container.getBlobClient(openPointer(scanId)).deleteIfExists();
    const first = subscriptions[0];
    o.log(`scan ${scanId} not committed: no subscription could be read (0 of ${subscriptions.length} in scope${first ? `; ${first.id}: ${first.reason ?? 'unreadable'}` : ''})`);
    return 'nothing-read';
  }
  const problems = parts.flatMap((p) => p.problems);
  const deepFailed = parts.reduce((n, p) => n + p.deepFailed, 0);
  const contextTables = Object.values(TABLES).filter((t) => t !== TABLES.subscriptions && t !== TABLES.accounts);
  const tables = [
    { type: TABLES.accounts.type, rows: parts.reduce((n, p) => n + p.accountRows, 0), status: 'read' as const },
    ...contextTables.map((t) => {
      const failure = plan.contextFailures[t.type];
      return failure === undefined ? { type: t.type, rows: 0, status: 'read' as const } : { type: t.type, rows: 0, status: 'failed' as const, reason: failure };
    }),
  ];
  const partial = subscriptions.some((s) => s.status !== 'read') || tables.some((t) => t.status === 'failed') || problems.length > 0 || deepFailed > 0;
  const finished = now();
  const scan: ScanDocument = {
    schemaVersion: 1,
    scanId,
    startedAt: plan.startedAt,
    finishedAt: finished.toISOString(),
    status: partial ? 'partial' : 'complete',
    scope: { subscriptions: [...plan.scope.subscriptions], managementGroups: [...plan.scope.managementGroups], deepInspection: plan.deepInspection },
    coverage: {
      subscriptions,
      accounts: parts.reduce((n, p) => n + p.accounts, 0),
      tables,
      deepInspection: { accounts: parts.reduce((n, p) => n + p.deepRead, 0), failed: deepFailed },
      problems: missing.length ? [`${missing.length} of ${plan.shards.length} shard(s) did not report`, ...problems] : problems,
    },
    rules,
    summary: summary.build(),
    stats: {
      durationMs: finished.getTime() - Date.parse(plan.startedAt),
      resourceGraphPages: plan.graphRequests + parts.reduce((n, p) => n + p.graphRequests, 0),
      resourceGraphRequests: plan.graphRequests + parts.reduce((n, p) => n + p.graphRequests, 0),
      armRequests: parts.reduce((n, p) => n + p.armRequests, 0),
      throttledResponses: parts.reduce((n, p) => n + p.throttled, 0),
    },
  };
  const findingsArtifact: Artifact = {
    name: 'findings.ndjson',
    contentType: 'application/x-ndjson',
    async write(out) {
      for (const p of parts) {
        const response = await partFindings(p.index).download();
        for await (const chunk of response.readableStreamBody ?? []) await writeChunk(out, chunk as Buffer);
      }
    },
  };
  await new BlobStore(o.container).save(scan, [findingsArtifact, ...reportArtifacts(scan, source, REPORT_FORMATS)]);
  await o.container.getBlobClient(openPointer(scanId)).deleteIfExists();
  o.log(`scan ${scanId} committed from ${parts.length} of ${plan.shards.length} shard(s): ${scanOutcomeLine(scan)}`);
  return 'committed';
}

/**
 * Commits every open fanned-out scan whose deadline has passed, as `partial` when parts are missing
 * (called by the timer before it plans the next scan). Errors are logged per scan, not thrown.
 * @returns the scanIds committed
 */
export async function finalizeOverdueScans(o: { container: ContainerClient; log: ProgressLog; now?: () => Date }): Promise<string[]> {
  const now = o.now ?? (() => new Date());
  const committed: string[] = [];
  if (!(await o.container.exists())) return committed;
  for await (const blob of o.container.listBlobsFlat({ prefix: 'shards/open/' })) {
    const pointer = await readJson<{ scanId: string; deadline: string }>(o.container, blob.name);
    if (!pointer || Date.parse(pointer.deadline) > now().getTime()) continue;
    try {
      if ((await commitShardedScan(pointer.scanId, { ...o, force: true })) === 'committed') committed.push(pointer.scanId);
    } catch (error) {
      o.log(`overdue scan ${pointer.scanId} could not be committed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return committed;
}
