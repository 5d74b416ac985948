import type { Writable } from 'node:stream';
import { type ProgressLog, requireReadable } from '../collect/collector.js';
import { type SubscriptionCoverage, TABLES } from '../collect/inventory.js';
import { catalogEntry } from '../domain/rule.js';
import { type Baseline, loadBaseline } from '../engine/diff.js';
import { SummaryBuilder } from '../engine/summary.js';
import { scanOutcomeLine } from '../reports/coverage.js';
import { REPORT_FORMATS, type ReportFormat } from '../reports/index.js';
import type { TrendPoint } from '../reports/trend.js';
import { ReportWriter } from '../reports/writer.js';
import type { AccountState } from '../store/accountState.js';
import type { Artifact, FindingSource } from '../store/artifact.js';
import type { FindingBytes } from '../reports/writer.js';
import type { ScanDocument } from '../store/scanDocument.js';
import type { ScanStore, StoredScan } from '../store/stores.js';
import { rulesOf } from './evaluate.js';
import { RestartPass } from './liveFindings.js';
import { planPolicy, type RequestCounts, type ScanPlan } from './plan.js';
import type { ShardPart } from './shard.js';
import { warnUnseenResourceGroups } from './scope.js';

/**
 * Step 4 of the pipeline (docs/architecture.md), the one commit for every scan, whether its shards
 * ran in process or in queue workers: `scan.json` built from the plan and the parts, the findings
 * (the parts' files in shard order), every report against the previous scan — the summary, the
 * findings and the reports from one read of the parts (reports/writer.ts) — each store's commit
 * point last; then `afterCommit` (the digest and the accounts' states in the Function App).
 */

/** A part of a scan to commit: its summary, its findings and its account states. */
export interface PartToCommit {
  readonly part: ShardPart;
  readonly findings: FindingSource;
  /**
   * Copies the part's findings file, as stored, to `out` (with backpressure; does not end it). The
   * commit's one read of the part: the summary, findings.ndjson and every report are fed from it.
   */
  copyFindings(out: Writable): Promise<void>;
  /** The part's account states, streamed. */
  states(): AsyncIterable<AccountState>;
}

/**
 * A part whose shard runs in this process: the part once the shard finished, and its findings as
 * the shard writes them (pipeline/liveFindings.ts), so the pass reads the shard while it runs.
 */
export interface ArrivingPart {
  readonly done: Promise<PartToCommit>;
  /**
   * Copies the shard's findings to `out` as it writes them; resolves once the shard finished and
   * every finding was copied; undefined when the shard has already finished (read `done`'s part).
   * @throws RestartPass (liveFindings.ts) when what was copied is no longer the shard's findings; the shard's error
   */
  copyWhileMade(out: Writable): Promise<void> | undefined;
}

/** What runs after every store committed: alerting, account states. Its errors are logged, never thrown. */
export type AfterCommit = (o: {
  scan: ScanDocument;
  /** The scan the first store held before (the baseline). */
  previous: StoredScan | undefined;
  current: FindingSource;
  /** Each evaluated account's state (its outcomes and the IDs change events route by), streamed part by part. */
  states: () => AsyncIterable<AccountState>;
}) => Promise<unknown>;

/** Options of `commitScan`. */
export interface CommitOptions {
  readonly plan: ScanPlan;
  /**
   * The parts there are, any order; or the parts of shards still running in this process, in shard
   * order, each read while its shard runs (or, once it finished, from its file) when those before it
   * are read. A part whose `done` rejects fails the commit (nothing is written).
   */
  readonly parts: readonly PartToCommit[] | readonly ArrivingPart[];
  /** Shards that did not report, and why their subscriptions are unreadable (by shard index). */
  readonly missing?: { readonly shards: ScanPlan['shards']; readonly reason: (shard: number) => string };
  readonly stores: readonly ScanStore[];
  readonly formats?: readonly ReportFormat[];
  readonly afterCommit?: AfterCommit | undefined;
  /** The scan's requests: the plan's and every shard's (counts); a function is asked once every part is read. */
  readonly requests: RequestCounts | (() => RequestCounts);
  readonly log: ProgressLog;
  readonly now: () => Date;
  /** Where the reports' temporary files go (removed on every path). Default the OS temporary directory. */
  readonly workDir?: string | undefined;
}

/**
 * Builds `scan.json` for a plan and its parts: the only builder of a ScanDocument.
 * @param summary the findings' summary (engine/summary.ts)
 */
export function scanDocument(
  o: Pick<CommitOptions, 'plan' | 'missing'> & { parts: readonly PartToCommit[]; requests: RequestCounts; summary: ScanDocument['summary']; finishedAt: Date },
): ScanDocument {
  const { plan } = o;
  const parts = [...o.parts].map((p) => p.part).sort((a, b) => a.index - b.index);
  const fromParts = new Map<string, SubscriptionCoverage>();
  for (const p of parts) for (const s of p.subscriptions) fromParts.set(s.id.toLowerCase(), s);
  const missing = new Map((o.missing?.shards ?? []).flatMap((s) => s.subscriptions.map((id) => [id.toLowerCase(), s.index] as const)));
  const subscriptions = plan.subscriptions.map((s): SubscriptionCoverage => {
    if (s.status !== 'read') return s;
    const read = fromParts.get(s.id.toLowerCase());
    if (read?.status === 'read') return s;
    if (read) return { ...s, status: 'unreadable', ...(read.reason === undefined ? {} : { reason: read.reason }) };
    const shard = missing.get(s.id.toLowerCase());
    return { ...s, status: 'unreadable', reason: shard !== undefined && o.missing ? o.missing.reason(shard) : 'its shard did not report' };
  });
  // A tenant-wide plan lists no subscription: its shard names those its accounts came from.
  const planned = new Set(plan.subscriptions.map((s) => s.id.toLowerCase()));
  for (const s of fromParts.values()) if (!planned.has(s.id.toLowerCase())) subscriptions.push(s);
  const tables: ScanDocument['coverage']['tables'] = [
    { type: TABLES.accounts.type, rows: parts.reduce((n, p) => n + p.accountRows, 0), status: 'read' },
    ...plan.contextTables.map((t) => (t.failure === undefined ? { type: t.type, rows: t.rows, status: 'read' as const } : { type: t.type, rows: t.rows, status: 'failed' as const, reason: t.failure })),
  ];
  // Every shard indexes the same context tables, so their problems repeat: each is listed once.
  const problems = [...new Set(parts.flatMap((p) => p.problems))];
  const missingShards = o.missing?.shards.length ?? 0;
  if (missingShards > 0) problems.unshift(`${missingShards} of ${plan.shards.length} shard(s) did not report`);
  const deepFailed = parts.reduce((n, p) => n + p.deepFailed, 0);
  const partial = subscriptions.some((s) => s.status !== 'read') || tables.some((t) => t.status === 'failed') || problems.length > 0 || deepFailed > 0;
  const exclude = plan.scope.exclude;
  return {
    schemaVersion: 1,
    scanId: plan.scanId,
    startedAt: plan.startedAt,
    finishedAt: o.finishedAt.toISOString(),
    status: partial ? 'partial' : 'complete',
    scope: {
      subscriptions: [...plan.scope.include.subscriptions],
      managementGroups: [...plan.scope.include.managementGroups],
      deepInspection: plan.deepInspection,
      ...(plan.scope.resourceGroups.length ? { resourceGroups: [...plan.scope.resourceGroups] } : {}),
      ...(exclude.subscriptions.length + exclude.managementGroups.length + exclude.resourceGroups.length ? { excluded: exclude } : {}),
    },
    coverage: {
      subscriptions,
      accounts: parts.reduce((n, p) => n + p.accounts, 0),
      tables,
      deepInspection: { accounts: parts.reduce((n, p) => n + p.deepRead, 0), failed: deepFailed },
      problems,
    },
    rules: scanRules(plan),
    summary: o.summary,
    stats: {
      durationMs: o.finishedAt.getTime() - Date.parse(plan.startedAt),
      resourceGraphPages: o.requests.graphPages,
      resourceGraphRequests: o.requests.graphRequests,
      armRequests: o.requests.armRequests,
      throttledResponses: o.requests.throttled,
      queryPlan: queryPlanOf(plan, parts),
    },
  };
}

/** The rules a plan's scan runs, in catalog order (`ScanDocument.rules`). */
function scanRules(plan: ScanPlan): ScanDocument['rules'] {
  return rulesOf(planPolicy(plan), plan.deepInspection).map(catalogEntry);
}

/** The scan's query plan: the plan's tables, then the accounts of every part (counts). */
function queryPlanOf(plan: ScanPlan, parts: readonly ShardPart[]): NonNullable<ScanDocument['stats']['queryPlan']> {
  const accounts = parts.map((p) => p.accountQuery);
  const sum = (key: 'rows' | 'pages' | 'leastPages') => accounts.reduce((n, a) => n + a[key], 0);
  return [
    ...plan.queryPlan.map((t) => ({ type: t.type, rows: t.rows, pages: t.pages, leastPages: t.leastPages })),
    { type: TABLES.accounts.type, rows: sum('rows'), pages: sum('pages'), leastPages: sum('leastPages') },
  ];
}

/** The query plan in words: a line per table, then the totals and both floors (the quota: 3 queries a second). */
export function queryPlanLines(scan: ScanDocument): string[] {
  const plan = scan.stats.queryPlan ?? [];
  const pages = plan.reduce((n, t) => n + t.pages, 0);
  const least = plan.reduce((n, t) => n + t.leastPages, 0);
  return [
    ...plan.map((t) => `query plan: ${t.type}: ${t.rows} row(s), ${t.pages} page(s), least ${t.leastPages}`),
    `query plan: ${pages} page(s), least ${least}; quota floor ${(scan.stats.resourceGraphRequests / 3).toFixed(1)} s, least-pages floor ${(least / 3).toFixed(1)} s`,
  ];
}

/**
 * Commits a scan to every store, then runs `afterCommit`.
 * @throws ScanSetupError when no subscription in scope was read (nothing is committed: "0 accounts"
 *   is not "compliant"); a store's I/O error when a write fails (stores written before it keep the
 *   new scan, the failing one keeps its previous)
 */
export async function commitScan(o: CommitOptions): Promise<ScanDocument> {
  const given = partsOf(o.parts);
  const arriving = given.some((p) => p.copyWhileMade !== undefined);
  const requests = () => (typeof o.requests === 'function' ? o.requests() : o.requests);
  // Parts all here: a scan that read no subscription is refused before any finding is read. Parts
  // still arriving: once they are all read, below (the pass's files are then removed, nothing is written).
  if (!arriving) refuseUnread(o, await Promise.all(given.map((p) => p.done)));
  const previous = await previousScan(o.stores, o.log);
  const history = await storedHistory(o.stores, o.log);
  let baseline: Baseline | undefined;
  if (previous) baseline = await loadBaseline(previous.scan.scanId, previous.scan.finishedAt, previous.findings).catch(() => undefined);
  const passOptions: PassOptions = { rules: scanRules(o.plan), formats: o.formats ?? REPORT_FORMATS, previous: baseline, history, workDir: o.workDir };
  let parts: PartToCommit[] = [];
  let scan: ScanDocument | undefined;
  // One pass over the parts feeds the summary, findings.ndjson and every report (reports/writer.ts).
  // It reads a part while its shard runs when it can; if what it read stops being the shard's
  // findings (RestartPass), it starts again from the finished parts' files.
  for (let live = true; scan === undefined; live = false) {
    const pass = await openPass(passOptions);
    parts = [];
    try {
      const summary = await pass.read(
        (async function* (): AsyncGenerator<FindingBytes> {
          for (const p of given) {
            const whileMade = live ? p.copyWhileMade : undefined;
            if (whileMade) {
              yield (out) => whileMade(out) ?? p.done.then((part) => part.copyFindings(out));
              parts.push(await p.done);
            } else {
              const part = await p.done;
              parts.push(part);
              yield (out) => part.copyFindings(out);
            }
          }
        })(),
      );
      if (arriving) refuseUnread(o, parts);
      const finished = scanDocument({ ...o, parts, requests: requests(), summary, finishedAt: o.now() });
      const artifacts = await pass.finish(finished);
      for (const store of o.stores) {
        await store.save(finished, artifacts);
        o.log(`written to ${store.location}`);
      }
      scan = finished;
    } catch (error) {
      if (!(error instanceof RestartPass) || !live) throw error;
      o.log(`the report pass starts again from the shards' files: ${error.message}`);
    } finally {
      await pass.remove();
    }
  }
  for (const line of queryPlanLines(scan)) o.log(line);
  o.log(`scan ${scan.scanId} committed from ${parts.length} of ${o.plan.shards.length} shard(s): ${scanOutcomeLine(scan)}`);
  if (o.afterCommit) {
    try {
      const current: FindingSource = async function* () {
        for (const p of parts) yield* p.findings();
      };
      const states = async function* () {
        for (const p of parts) yield* p.states();
      };
      await o.afterCommit({ scan, previous, current, states });
    } catch (error) {
      o.log(`after-commit step failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return scan;
}

/** A part given as an arriving part, its shard run here. */
function isArriving(p: PartToCommit | ArrivingPart): p is ArrivingPart {
  return typeof (p as { copyWhileMade?: unknown }).copyWhileMade === 'function';
}

/** A commit's parts in the order read: given parts sorted by shard index, arriving parts in the order given. */
function partsOf(parts: CommitOptions['parts']): { done: Promise<PartToCommit>; copyWhileMade?: ArrivingPart['copyWhileMade'] }[] {
  const out = parts.map((p) => {
    if (isArriving(p)) return { done: p.done, copyWhileMade: (w: Writable) => p.copyWhileMade(w) };
    return { done: Promise.resolve(p) };
  });
  // A part that fails is thrown when the pass reaches it (in shard order); until then it is handled here.
  for (const p of out) p.done.catch(() => undefined);
  if (parts.some(isArriving)) return out;
  const byShard = (parts as readonly PartToCommit[]).map((p, i) => ({ index: p.part.index, read: out[i] as (typeof out)[number] }));
  return byShard.sort((a, b) => a.index - b.index).map((p) => p.read);
}

/**
 * Refuses a scan that read no subscription, before anything is written.
 * @throws ScanSetupError (collector.ts `requireReadable`)
 */
function refuseUnread(o: CommitOptions, parts: readonly PartToCommit[]): void {
  // Known from the plan and the parts alone (the summary and the end time are placeholders here).
  const before = scanDocument({ ...o, parts, requests: EMPTY_REQUESTS, summary: new SummaryBuilder().build(), finishedAt: new Date(o.plan.startedAt) });
  requireReadable(before.coverage.subscriptions);
  warnUnseenResourceGroups(parts.map((p) => p.part.unseenResourceGroups), o.log);
}

const EMPTY_REQUESTS: RequestCounts = { graphPages: 0, graphRequests: 0, armRequests: 0, throttled: 0 };

/** The commit's one pass over the findings (reports/writer.ts). */
interface FindingsPass {
  /** Reads the parts' findings in order, each as it arrives; resolves with the findings' summary. */
  read(parts: AsyncIterable<FindingBytes>): Promise<ScanDocument['summary']>;
  finish(scan: ScanDocument): Promise<Artifact[]>;
  /** Removes the temporary files; never throws. */
  remove(): Promise<void>;
}

/** What the pass is opened with (reports/writer.ts `ReportWriterOptions`). */
interface PassOptions {
  readonly rules: ScanDocument['rules'];
  readonly formats: readonly ReportFormat[];
  readonly previous: Baseline | undefined;
  readonly history: readonly TrendPoint[];
  readonly workDir: string | undefined;
}

/**
 * Opens the pass: the summary, findings.ndjson and every report, fed by one read of each part.
 * @throws the file system's error when the temporary folder cannot be created
 */
async function openPass(options: PassOptions): Promise<FindingsPass> {
  const summary = new SummaryBuilder(options.rules.map((r) => r.id));
  const writer = await ReportWriter.open({ scan: { rules: options.rules }, ...options, findingsFile: true, observe: (f) => summary.add(f) });
  return {
    async read(parts) {
      await writer.read(parts);
      return summary.build();
    },
    finish: (scan) => writer.finish(scan),
    remove: () => writer.remove(),
  };
}

/** The scan the first store holds now (the previous scan); undefined when none or unreadable. */
async function previousScan(stores: readonly ScanStore[], log: ProgressLog): Promise<StoredScan | undefined> {
  const store = stores[0];
  if (!store) return undefined;
  try {
    return await store.current();
  } catch (error) {
    log(`previous scan could not be read, so no changes are shown: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

/**
 * The committed scans the first store holds (its trend, oldest first), for the HTML page's trend,
 * which adds the scan being committed; empty when the store keeps none or it cannot be read.
 */
async function storedHistory(stores: readonly ScanStore[], log: ProgressLog): Promise<TrendPoint[]> {
  try {
    return (await stores[0]?.history?.()) ?? [];
  } catch (error) {
    log(`the scans before this one could not be read, so the trend shows this scan alone: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}
