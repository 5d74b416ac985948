import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished as streamFinished, pipeline } from 'node:stream/promises';
import type { AzureClients } from '../collect/clients.js';
import { type AccountBatchSink, collectAccounts, type ContextTables, type ProgressLog, type TablePlan } from '../collect/collector.js';
import type { SubscriptionCoverage } from '../collect/inventory.js';
import { normalizeAccounts, type PreparedTenant, prepareTenant } from '../collect/normalize.js';
import { readPerimeterConfigurations } from '../collect/perimeterConfigurations.js';
import type { Policy } from '../config/policy.js';
import type { Observed } from '../domain/observed.js';
import type { Finding } from '../domain/rule.js';
import type { AccessLogReading, AccountSnapshot, CloudName, CosmosRoleAssignments } from '../domain/snapshot.js';
import { writeChunk } from '../store/artifact.js';
import { faultPoint } from '../testing/faults.js';
import type { LiveFindings } from './liveFindings.js';
import { evaluateAccounts, isDeepCandidate } from './evaluate.js';
import { type RequestCounts, requestCounters, requestDelta, type ScanPlan } from './plan.js';
import { ResourceGroupFilter } from './scope.js';

/**
 * Step 3 of the pipeline (docs/architecture.md): one shard of a plan — the accounts of at most 300
 * subscriptions streamed from Resource Graph a page at a time; each page normalized against the
 * plan's context, deep-read when the plan says so, evaluated and written (findings and account
 * states to NDJSON files) while the next page is requested. Nothing per account is kept once its
 * findings are written. The same function runs in process (a small tenant, the CLI) and in a queue
 * worker (a fanned-out scan).
 */

/** Findings text (UTF-16 code units) gathered before it is written: a few accounts' (about 10 KB each). */
const WRITE_BYTES = 64 * 1024;

/** A shard's result, without its findings (they are in the part's findings file). */
export interface ShardPart {
  readonly index: number;
  /** The shard's subscriptions: `read`, or `unreadable` with the reason its accounts could not be read. */
  readonly subscriptions: readonly SubscriptionCoverage[];
  /** Accounts evaluated (count). */
  readonly accounts: number;
  /** Account rows Resource Graph returned (count). */
  readonly accountRows: number;
  readonly problems: readonly string[];
  /** Accounts whose perimeter configurations were read, and of those, failed (counts). */
  readonly deepRead: number;
  readonly deepFailed: number;
  /** Resource groups the policy includes that no account of this shard is in (lower-case IDs). */
  readonly unseenResourceGroups: readonly string[];
  /** The account query's rows, pages and least pages (counts). */
  readonly accountQuery: TablePlan;
  /** The most account rows held at once (count): a page being evaluated and the next being read. */
  readonly peakAccountRows: number;
  readonly requests: RequestCounts;
}

/** A shard's files (temporary; the caller removes them) and what the commit needs of it. */
export interface EvaluatedShard {
  readonly part: ShardPart;
  /** NDJSON of the findings, one account's after another, in Resource Graph's order. */
  readonly findingsFile: string;
  /** NDJSON of the accounts' states, one a line. */
  readonly statesFile: string;
  /** Every finding, when the caller asked to keep them (tests, small tenants). */
  readonly retained: Finding[];
}

/**
 * The context tables indexed once (normalize.ts `prepareTenant`), for every shard a process runs:
 * each shard only narrows the readable subscriptions to its own. `accessLogs` are the plan's
 * access-log readings (NSP-07), by lower-case account ID; `data` the plan's Cosmos DB role
 * assignments and cloud (absent: a plan stored before they existed, whose Cosmos DB data sources are unknown).
 */
export function prepareContext(
  context: ContextTables,
  accessLogs?: Readonly<Record<string, AccessLogReading>>,
  data: { readonly cosmosRoleAssignments?: CosmosRoleAssignments; readonly cloud?: CloudName } = {},
): PreparedTenant {
  const indexed = prepareTenant({ subscriptions: [], tables: { ...context, accounts: { rows: [] } } });
  const prepared: PreparedTenant = {
    ...indexed,
    tenant: {
      ...indexed.tenant,
      cosmosRoleAssignments: data.cosmosRoleAssignments ?? { assignments: [], unreadable: {}, notRead: 'the plan stored no Cosmos DB role assignments' },
      cloud: data.cloud ?? 'AzureCloud',
    },
  };
  return accessLogs ? { ...prepared, accessLogs: new Map(Object.entries(accessLogs)) } : prepared;
}

/** One batch's output files and counts, kept when its read completes, discarded when it fails. */
class BatchOutput {
  readonly findings: WriteStream;
  readonly states: WriteStream;
  accounts = 0;
  deepRead = 0;
  deepFailed = 0;
  readonly problems: string[] = [];
  readonly retained: Finding[] = [];

  constructor(
    readonly findingsFile: string,
    readonly statesFile: string,
  ) {
    this.findings = createWriteStream(findingsFile, { encoding: 'utf8' });
    this.states = createWriteStream(statesFile, { encoding: 'utf8' });
  }

  async close(): Promise<void> {
    const done = [streamFinished(this.findings), streamFinished(this.states)];
    this.findings.end();
    this.states.end();
    await Promise.all(done);
  }

  async remove(): Promise<void> {
    this.findings.destroy();
    this.states.destroy();
    await Promise.all([rm(this.findingsFile, { force: true }), rm(this.statesFile, { force: true })]);
  }
}

/**
 * Reads, evaluates and writes one shard of `plan`.
 * @throws the file system's error when a file cannot be written (the shard's files are removed)
 */
export async function evaluateShard(o: {
  plan: ScanPlan;
  index: number;
  /** The plan's context, indexed once per process (`prepareContext`). */
  context: PreparedTenant;
  policy: Policy;
  clients: AzureClients;
  log: ProgressLog;
  now: () => Date;
  /** Most perimeter-configuration reads in flight (count). */
  deepConcurrency: number;
  workDir?: string;
  retainFindings?: boolean;
  /** Called after an account's findings reached the findings file (for the bench's time to first finding). */
  onFindings?: () => void;
  /** Told of every batch and of the findings text in its file as it is written, for the commit's pass to read meanwhile (in process). */
  live?: LiveFindings;
}): Promise<EvaluatedShard> {
  const { plan, policy, clients, log } = o;
  const shard = plan.shards.find((s) => s.index === o.index);
  if (!shard) throw new Error(`scan ${plan.scanId} has no shard ${o.index}`);
  const before = requestCounters(clients);
  const groups = new ResourceGroupFilter(plan.scope);
  const base = join(o.workDir ?? tmpdir(), `perimeter-auditor-${plan.scanId}-${o.index}-${process.pid}`);
  const evaluatedAt = o.now();
  const kept: BatchOutput[] = [];
  const open = new Set<BatchOutput>();
  let batches = 0;

  const sink = (subscriptions: readonly string[]): AccountBatchSink => {
    const out = new BatchOutput(`${base}-${batches}.ndjson`, `${base}-${batches}.states.ndjson`);
    batches += 1;
    const live = o.live;
    const liveBatch = live?.startBatch(out.findingsFile) ?? -1;
    open.add(out);
    // Only this batch's subscriptions are readable while its rows are normalized.
    const prepared: PreparedTenant = { ...o.context, problems: out.problems, readableSubscriptions: new Set(subscriptions.map((s) => s.toLowerCase())) };
    return {
      page: async (rows) => {
        const accounts: AccountSnapshot[] = [];
        for (const a of normalizeAccounts({ rows }, prepared)) if (groups.has(a)) accounts.push(a);
        let configurations = new Map<string, Observed<readonly unknown[]>>();
        // Configurations feed NSP-05 and NSP-06 only; a policy without them (e.g. `readiness`) skips the reads.
        if (plan.deepInspection && (policy.enabledRules.has('NSP-05') || policy.enabledRules.has('NSP-06'))) {
          const targets = accounts.filter((a) => isDeepCandidate(a, policy.parameters));
          configurations = await readPerimeterConfigurations(targets, clients.cognitiveServicesFor, {
            maxConcurrency: o.deepConcurrency,
            throttledIn: (subscriptionId) => clients.armStats.throttledBy.get(subscriptionId) ?? 0,
          });
        }
        const evaluations = evaluateAccounts(accounts, {
          policy,
          deepInspection: plan.deepInspection,
          prepared: o.context,
          configurations,
          evaluatedAt,
          source: { kind: 'scan', id: plan.scanId, at: plan.startedAt },
          problems: out.problems,
        });
        // A few accounts' lines per write (about WRITE_BYTES), not two writes per account: the same
        // bytes in the same order, with fewer calls into the file system.
        let findingsText = '';
        let statesText = '';
        let unwritten = 0;
        const write = async () => {
          if (findingsText !== '' && live) {
            // In the file before the pass is told of it: a pass that reaches this shard reads the file up to there.
            await writeFlushed(out.findings, findingsText);
            await live.written(liveBatch, findingsText);
          } else if (findingsText !== '') await writeChunk(out.findings, findingsText);
          if (statesText !== '') await writeChunk(out.states, statesText);
          findingsText = '';
          statesText = '';
          for (; unwritten > 0; unwritten -= 1) o.onFindings?.();
        };
        for (const e of evaluations) {
          out.accounts += 1;
          if (e.deep !== 'none') out.deepRead += 1;
          if (e.deep === 'failed') out.deepFailed += 1;
          for (const f of e.findings) findingsText += `${JSON.stringify(f)}\n`;
          statesText += `${JSON.stringify(e.state)}\n`;
          unwritten += 1;
          faultPoint('evaluation');
          if (o.retainFindings) out.retained.push(...e.findings);
          if (findingsText.length >= WRITE_BYTES) await write();
        }
        await write();
      },
      keep: async () => {
        await out.close();
        open.delete(out);
        kept.push(out);
        live?.kept(liveBatch);
      },
      discard: async () => {
        open.delete(out);
        live?.discarded(liveBatch);
        await out.remove();
      },
    };
  };

  try {
    const read = await collectAccounts(clients.graph, shard.subscriptions, { log, tenantWide: plan.tenantWide, batch: sink });
    // Every batch is kept or discarded: a pass reading this shard has had all of it. Before the files
    // are joined (renamed, appended, removed): a pass that comes later reads the joined file instead.
    o.live?.end();
    // One batch (the usual case) becomes the shard's files as it is; batches split after a refusal are appended in order.
    const findingsFile = `${base}.ndjson`;
    const statesFile = `${base}.states.ndjson`;
    await joinFiles(kept.map((b) => b.findingsFile), findingsFile);
    await joinFiles(kept.map((b) => b.statesFile), statesFile);
    const sum = (key: 'accounts' | 'deepRead' | 'deepFailed') => kept.reduce((n, b) => n + b[key], 0);
    const part: ShardPart = {
      index: o.index,
      subscriptions: read.subscriptions,
      accounts: sum('accounts'),
      accountRows: read.plan.rows,
      // The context's own problems (malformed rows) are every shard's: listed once by the commit.
      problems: [...o.context.problems, ...kept.flatMap((b) => b.problems)],
      deepRead: sum('deepRead'),
      deepFailed: sum('deepFailed'),
      unseenResourceGroups: groups.unseen(),
      accountQuery: read.plan,
      peakAccountRows: read.peakRows,
      requests: requestDelta(requestCounters(clients), before),
    };
    log(`shard ${o.index}: ${part.accounts} account(s) evaluated`);
    return { part, findingsFile, statesFile, retained: kept.flatMap((b) => b.retained) };
  } catch (error) {
    o.live?.fail(error);
    await Promise.all([...open, ...kept].map((b) => b.remove()));
    await Promise.all([rm(`${base}.ndjson`, { force: true }), rm(`${base}.states.ndjson`, { force: true })]);
    throw error;
  }
}

/** Writes `text` and resolves once the file has it (the write's callback). */
function writeFlushed(out: WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => out.write(text, (error) => (error ? reject(error) : resolve())));
}

/** Makes `target` the concatenation of `files` (renaming the only one, appending several), removing them. */
async function joinFiles(files: readonly string[], target: string): Promise<void> {
  const [first, ...rest] = files;
  if (first === undefined) {
    await streamFinished(createWriteStream(target).end());
    return;
  }
  await rename(first, target);
  for (const f of rest) {
    await pipeline(createReadStream(f), createWriteStream(target, { flags: 'a' }));
    await rm(f, { force: true });
  }
}
