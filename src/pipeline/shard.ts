import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished as streamFinished } from 'node:stream/promises';
import type { AzureClients } from '../collect/clients.js';
import { collectAccounts, type ContextTables, type ProgressLog } from '../collect/collector.js';
import type { SubscriptionCoverage } from '../collect/inventory.js';
import { normalizeAccounts, prepareTenant } from '../collect/normalize.js';
import { readPerimeterConfigurations } from '../collect/perimeterConfigurations.js';
import type { Policy } from '../config/policy.js';
import type { Observed } from '../domain/observed.js';
import type { Finding } from '../domain/rule.js';
import type { AccountSnapshot } from '../domain/snapshot.js';
import type { AccountState } from '../store/accountState.js';
import { writeChunk } from '../store/artifact.js';
import { faultPoint } from '../testing/faults.js';
import { evaluateAccounts, isDeepCandidate } from './evaluate.js';
import { type RequestCounts, requestCounters, requestDelta, type ScanPlan } from './plan.js';
import { ResourceGroupFilter } from './scope.js';

/**
 * Step 3 of the pipeline (docs/architecture.md): one shard of a plan — the accounts of at most 300
 * subscriptions read from Resource Graph, normalized against the plan's context, deep-read when the
 * plan says so, evaluated — written as a findings file and a part. The same function runs in
 * process (a small tenant, the CLI) and in a queue worker (a fanned-out scan).
 */

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
  readonly requests: RequestCounts;
}

/** A shard's findings (a temporary NDJSON file the caller removes) and what the commit needs of it. */
export interface EvaluatedShard {
  readonly part: ShardPart;
  /** NDJSON of the findings, one account's after another, accounts sorted by ID. */
  readonly findingsFile: string;
  readonly states: AccountState[];
  /** Every finding, when the caller asked to keep them. */
  readonly retained: Finding[];
}

/**
 * Reads, evaluates and writes one shard of `plan`.
 * @throws the file system's error when the findings file cannot be written (it is removed)
 */
export async function evaluateShard(o: {
  plan: ScanPlan;
  index: number;
  context: ContextTables;
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
}): Promise<EvaluatedShard> {
  const { plan, policy, clients, log } = o;
  const shard = plan.shards.find((s) => s.index === o.index);
  if (!shard) throw new Error(`scan ${plan.scanId} has no shard ${o.index}`);
  const before = requestCounters(clients);
  const read = await collectAccounts(clients.graph, shard.subscriptions, log, plan.tenantWide);
  const prepared = prepareTenant({ subscriptions: read.subscriptions, tables: { ...o.context, accounts: read.accounts } });
  const groups = new ResourceGroupFilter(plan.scope);
  // Accounts are normalized lazily, one at a time, from the rows kept as text (sorted by ID so the
  // findings' order does not depend on paging); a second pass re-normalizes them after deep inspection.
  const rows = { rows: sortedById(read.accounts.rows) };
  const accountsInScope = function* () {
    for (const a of normalizeAccounts(rows, prepared)) if (groups.has(a)) yield a;
  };

  let configurations = new Map<string, Observed<readonly unknown[]>>();
  if (plan.deepInspection) {
    const params = policy.parameters;
    const targets: DeepTarget[] = [];
    for (const a of accountsInScope())
      if (isDeepCandidate(a, params)) targets.push({ id: a.id, subscriptionId: a.subscriptionId, resourceGroup: a.resourceGroup, name: a.name });
    log(`deep inspection: ${targets.length} account(s)`);
    configurations = await readPerimeterConfigurations(targets, clients.cognitiveServicesFor, {
      maxConcurrency: o.deepConcurrency,
      throttled: () => clients.armStats.throttled,
    });
  }

  const problems = prepared.problems;
  const findingsFile = join(o.workDir ?? tmpdir(), `perimeter-auditor-${plan.scanId}-${o.index}-${process.pid}.ndjson`);
  const out = createWriteStream(findingsFile, { encoding: 'utf8' });
  const closed = streamFinished(out);
  const states: AccountState[] = [];
  const retained: Finding[] = [];
  let accounts = 0;
  let deepRead = 0;
  let deepFailed = 0;
  try {
    const evaluations = evaluateAccounts(accountsInScope(), {
      policy,
      deepInspection: plan.deepInspection,
      prepared,
      configurations,
      evaluatedAt: o.now(),
      source: { kind: 'scan', id: plan.scanId, at: plan.startedAt },
      problems,
    });
    for (const e of evaluations) {
      accounts += 1;
      if (e.deep !== 'none') deepRead += 1;
      if (e.deep === 'failed') deepFailed += 1;
      await writeChunk(out, e.findings.map((f) => `${JSON.stringify(f)}\n`).join(''));
      o.onFindings?.();
      faultPoint('evaluation');
      states.push(e.state);
      if (o.retainFindings) retained.push(...e.findings);
    }
    out.end();
    await closed;
  } catch (error) {
    out.destroy();
    await rm(findingsFile, { force: true });
    throw error;
  }
  log(`shard ${o.index}: ${accounts} account(s) evaluated`);
  const part: ShardPart = {
    index: o.index,
    subscriptions: read.subscriptions,
    accounts,
    accountRows: read.accounts.rows.length,
    problems,
    deepRead,
    deepFailed,
    unseenResourceGroups: groups.unseen(),
    requests: requestDelta(requestCounters(clients), before),
  };
  return { part, findingsFile, states, retained };
}

/** A deep-inspection target: the account's ID and the parts its ARM URL needs. */
export type DeepTarget = Pick<AccountSnapshot, 'id' | 'subscriptionId' | 'resourceGroup' | 'name'>;

/** Account rows (objects or JSON text) sorted by lower-case ID; rows without a readable ID keep their place at the end. */
function sortedById(rows: readonly unknown[]): unknown[] {
  const keyed = rows.map((row) => {
    const value = typeof row === 'string' ? /^\{"id":"((?:[^"\\]|\\.)*)"/.exec(row)?.[1] : (row as { id?: unknown } | null)?.id;
    return { row, key: typeof value === 'string' ? value.toLowerCase() : '\uffff' };
  });
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.row);
}
