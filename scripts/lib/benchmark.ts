import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { commitShardedScan } from '../../src/shards.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';

/**
 * What the benchmarks share: a measured run in a process of its own (so that its peak RSS is its
 * own), what such a run prints, and the Markdown tables they print (figures rounded, `—` for a
 * figure there is not). Used by `npm run bench` (scripts/bench.ts, scripts/bench-run.ts) and the
 * fan-in run (scripts/bench-fanin.ts, scripts/bench-commit.ts).
 */

/** A measured run's exit and the JSON line it printed last on stdout (undefined when it failed). */
export interface MeasuredRun<T> {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly result: T | undefined;
}

/**
 * Runs `node [--max-old-space-size=heapMiB] entry ...args` with stderr passed through, and reads the
 * last line of its stdout as JSON.
 * @param heapMiB V8's old-space cap (MiB); 0 or undefined: V8's default
 */
export async function measuredRun<T>(
  entry: string,
  args: readonly string[],
  o: { heapMiB?: number; env?: Record<string, string> } = {},
): Promise<MeasuredRun<T>> {
  const heap = o.heapMiB ? [`--max-old-space-size=${o.heapMiB}`] : [];
  const child = spawn(process.execPath, [...heap, entry, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...o.env } });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  const last = out.trim().split('\n').at(-1);
  return { code, signal, result: code === 0 && last ? (JSON.parse(last) as T) : undefined };
}

/** A scan's query plan as scan.json declares it (`stats.queryPlan`); absent while the scan does not fill it. */
export type QueryPlan = NonNullable<ScanDocument['stats']['queryPlan']>;

/** What one measured run of `npm run bench` prints (scripts/bench-run.ts): one JSON line. */
export interface RunResult {
  readonly wallMs: number;
  readonly accounts: number;
  /** Findings written (ours only). */
  readonly findings?: number;
  /** From the run's start to the first account's findings written (ms; ours only). */
  readonly firstFindingMs?: number;
  readonly graphQueries: number;
  readonly graphThrottled?: number;
  readonly armCalls: number;
  readonly armThrottled: number;
  readonly peakRssMiB: number;
  /** scan.json's `stats.queryPlan` (ours, when the scan fills it). */
  readonly queryPlan?: QueryPlan;
}

/** What one measured fan-in commit prints (scripts/bench-commit.ts): one JSON line. */
export interface CommitRun {
  readonly outcome: Awaited<ReturnType<typeof commitShardedScan>>;
  /** From the call of commitShardedScan to its return (ms). */
  readonly wallMs: number;
  /** Of `wallMs`, from the after-commit step's start (ms); absent without it. */
  readonly afterCommitMs?: number;
  /** Of `afterCommitMs`, the accounts' states written (StateStore.syncFromScan, ms). */
  readonly stateSyncMs?: number;
  /** Account states the after-commit step wrote (StateStore.syncFromScan's count). */
  readonly statesWritten?: number;
  /** Why the after-commit step failed (the commit logs it, and does not throw). */
  readonly afterCommitError?: string;
  readonly peakRssMiB: number;
}

/** This process's peak resident set so far (MiB). */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** Resource Graph's quota for one user: 15 queries per 5 s, so no scan reads faster than this (queries per second). */
export const QUERIES_PER_SECOND = 15 / 5;

/** `n` with `digits` decimals; `—` when there is no figure. */
export function fmt(n: number | undefined, digits = 1): string {
  return n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits);
}

/** A count with thousands separators; `—` when there is no figure. */
export function count(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en');
}

/** A Markdown table. */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The least pages the plan's rows need (Σ leastPages); undefined without a plan. */
export function leastPages(plan: QueryPlan | undefined): number | undefined {
  return plan?.reduce((n, t) => n + t.leastPages, 0);
}

/** The query plan per table, with its total: rows, pages, least pages, and the pages above the least. */
export function queryPlanTable(plan: QueryPlan | undefined): string {
  if (!plan) return '(no query plan: scan.json has no stats.queryPlan)';
  const total = { type: 'total', rows: 0, pages: 0, leastPages: 0 };
  for (const t of plan) {
    total.rows += t.rows;
    total.pages += t.pages;
    total.leastPages += t.leastPages;
  }
  return markdownTable(
    ['table', 'rows', 'pages', 'least pages', 'pages above the least'],
    [...plan, total].map((t) => [t.type, count(t.rows), count(t.pages), count(t.leastPages), count(t.pages - t.leastPages)]),
  );
}
