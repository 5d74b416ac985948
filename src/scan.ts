import type { CloudName } from './domain/snapshot.js';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import pLimit from 'p-limit';
import type { AzureClients } from './collect/clients.js';
import { GRAPH_CONCURRENCY, type ProgressLog, type ScanScope } from './collect/collector.js';
import { withRequestPriority } from './collect/throttle.js';
import type { Policy } from './config/policy.js';
import type { Finding } from './domain/rule.js';
import { type AfterCommit, type ArrivingPart, commitScan } from './pipeline/commit.js';
import { LiveFindings } from './pipeline/liveFindings.js';
import { type PlannedScan, planScan, requestCounters, requestDelta, type ScanPlan } from './pipeline/plan.js';
import type { PreparedTenant } from './collect/normalize.js';
import { scopeSpec } from './pipeline/scope.js';
import { type EvaluatedShard, evaluateShard } from './pipeline/shard.js';
import type { ReportFormat } from './reports/index.js';
import { fileFindings, readJsonLines, writeChunk } from './store/artifact.js';
import type { AccountState } from './store/accountState.js';
import { newScanId, type ScanDocument } from './store/scanDocument.js';
import type { ScanStore } from './store/stores.js';

/**
 * A scan in one process: the pipeline's plan, its shards run here (a few at a time), and the one
 * commit (docs/architecture.md). The CLI, the demo, the timer below the fan-out threshold and the
 * on-demand scan run this; a fanned-out scan runs the same steps in queue workers (shards.ts).
 */

export interface ScanOptions {
  /** What the caller names (CLI flags, settings); both empty: the policy's include, else the tenant. */
  readonly scope: ScanScope;
  readonly policy: Policy;
  /** Whether perimeter configurations are read (NSP-05, NSP-06). Default the policy's `deepInspection`. */
  readonly deepInspection?: boolean;
  readonly clients: AzureClients;
  /** The cloud scanned: the data sources' FQDN suffixes (ID-04). Default `AzureCloud`. */
  readonly cloud?: CloudName;
  /** Where the scan is written; each store commits after its own files. */
  readonly stores: readonly ScanStore[];
  /** Concurrent per-account ARM reads during deep inspection, per shard (count). Default 8. */
  readonly deepConcurrency?: number;
  /** Report formats written beside the scan files. Default: all (json, csv, sarif, html). */
  readonly formats?: readonly ReportFormat[];
  /** The scan's ID when the caller allotted one (an on-demand scan); default a new one. */
  readonly scanId?: string;
  /** A plan already made (the timer plans before it decides to fan out); its scanId and start are the scan's. */
  readonly planned?: PlannedScan;
  /** Runs after every store committed the scan (alerting, account states); its errors are logged, never thrown. */
  readonly afterCommit?: AfterCommit;
  /**
   * Keep every finding in memory and return it in `ScanResult.findings` (tests, small tenants).
   * Default false: findings are streamed to temporary NDJSON files (one per shard) and from there
   * to the stores, so a 100,000-account scan holds one account's findings at a time.
   */
  readonly retainFindings?: boolean;
  /** Directory for the temporary findings files. Default the OS temporary directory. */
  readonly workDir?: string;
  readonly log?: ProgressLog;
  readonly now?: () => Date;
  /** Called once, when the first account's findings were written (the bench's time to first finding). */
  readonly onFirstFindings?: () => void;
}

export interface ScanResult {
  readonly scan: ScanDocument;
  /** Every finding when `retainFindings` was set; empty otherwise (read them from a store). */
  readonly findings: readonly Finding[];
}

/**
 * Runs one scan and writes it to every store.
 * @throws ScanSetupError when the subscriptions in scope cannot be listed or none could be read
 *   (nothing is committed); a store's I/O error when a write fails (stores written before it keep
 *   the new scan, the failing one keeps its previous)
 */
export async function runScan(options: ScanOptions): Promise<ScanResult> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const { policy, clients } = options;
  const before = requestCounters(clients);
  // `planned.prepared` (the context) is dropped once every shard has settled: the commit needs none of it.
  const planned = await planAndPrepare(options, now, log);
  const { plan } = planned;
  const requestsBefore = options.planned ? requestDelta(before, options.planned.plan.requests) : before;
  // Shards run a few at a time: each pages its own account query under the client's pace.
  const limit = pLimit(GRAPH_CONCURRENCY);
  let first = options.onFirstFindings;
  const onFindings = () => {
    first?.();
    first = undefined;
  };
  const evaluated: EvaluatedShard[] = [];
  // Each shard's findings as it writes them: the commit's pass reads a shard while it runs once the shards before it are read.
  const live = plan.shards.map(() => new LiveFindings());
  // Shards in shard order: the commit reads each one's findings while it runs, once those before it
  // are read, and later shards are still read and evaluated meanwhile.
  const runs = plan.shards.map((s, i) =>
    limit(async () => {
      // Its Resource Graph pages go before later shards' when the client's window is full (collect/throttle.ts).
      const shard = await withRequestPriority(s.index, () => evaluateShard({
        plan,
        index: s.index,
        context: planned.prepared as PreparedTenant,
        policy,
        clients,
        log,
        now,
        deepConcurrency: options.deepConcurrency ?? 8,
        ...(options.workDir ? { workDir: options.workDir } : {}),
        retainFindings: options.retainFindings ?? false,
        onFindings,
        live: live[i],
      }));
      evaluated.push(shard);
      return shard;
    }),
  );
  // A shard that ends or fails anywhere (even before it reads a page) ends what the pass reads of it,
  // so a pass reading it never waits for text that will not come.
  runs.forEach((run, i) => run.then(() => live[i]?.end(), (error: unknown) => live[i]?.fail(error)));
  // Settled, not raced: a failing shard's siblings finish, so the `finally` below removes every file.
  // The context is dropped once no shard needs it.
  const settled = Promise.allSettled(runs).then(() => (planned.prepared = undefined));
  const parts = runs.map(
    (run, i): ArrivingPart => ({
      done: run.then((s) => ({
        part: s.part,
        findings: fileFindings(s.findingsFile),
        copyFindings: async (out: Writable) => {
          for await (const chunk of createReadStream(s.findingsFile)) await writeChunk(out, chunk as Buffer);
        },
        states: () => readJsonLines<AccountState>(createReadStream(s.statesFile, { encoding: 'utf8' })),
      })),
      copyWhileMade: (out) => {
        const l = live[i];
        return l && !l.settled ? l.copyWhileMade(out) : undefined;
      },
    }),
  );
  try {
    const scan = await commitScan({
      plan,
      parts,
      stores: options.stores,
      ...(options.formats ? { formats: options.formats } : {}),
      afterCommit: options.afterCommit,
      ...(options.workDir ? { workDir: options.workDir } : {}),
      // In one process the shards share the clients: the scan's requests are the clients' delta once every shard is done.
      requests: () => requestDelta(requestCounters(clients), requestsBefore),
      log,
      now,
    });
    return { scan, findings: evaluated.sort((a, b) => a.part.index - b.part.index).flatMap((s) => s.retained) };
  } finally {
    await settled;
    await Promise.all(evaluated.flatMap((s) => [rm(s.findingsFile, { force: true }), rm(s.statesFile, { force: true })]));
  }
}

/**
 * Plans a scan of `options` (pipeline step 1 and 2): the scope of the caller and the policy, read once.
 * @throws ScanSetupError when the subscriptions in scope cannot be listed or none is readable
 */
export async function planOf(
  options: Pick<ScanOptions, 'scope' | 'policy' | 'deepInspection' | 'clients' | 'scanId' | 'cloud'> & {
    /** Whether the plan keeps the context's raw rows (a fan-out stores them), by subscriptions in scope. Default: always. */
    readonly keepContext?: (subscriptionsInScope: number) => boolean;
  },
  started: Date,
  log: ProgressLog,
): Promise<PlannedScan> {
  const scanId = options.scanId ?? newScanId(started);
  log(`scan ${scanId} started`);
  return planScan({
    scanId,
    scope: scopeSpec(options.scope, options.policy),
    policy: options.policy,
    deepInspection: options.deepInspection ?? options.policy.deepInspection,
    clients: options.clients,
    log,
    startedAt: started,
    ...(options.cloud ? { cloud: options.cloud } : {}),
    ...(options.keepContext ? { keepContext: options.keepContext } : {}),
  });
}

/**
 * The plan (made or given) and its context, indexed as it was read, for every shard of this process.
 * A plan made here keeps no raw rows (its shards all run here).
 */
async function planAndPrepare(options: ScanOptions, now: () => Date, log: ProgressLog): Promise<{ plan: ScanPlan; prepared: PreparedTenant | undefined }> {
  const planned = options.planned ?? (await planOf({ ...options, keepContext: () => false }, now(), log));
  return { plan: planned.plan, prepared: planned.prepared };
}
