import type { AzureClients } from './collect/clients.js';
import { collectInventory, type ProgressLog, type ScanScope } from './collect/collector.js';
import { type RawInventory, TABLES } from './collect/inventory.js';
import { normalizeAccounts, prepareTenant, withPerimeterConfigurations } from './collect/normalize.js';
import { readPerimeterConfigurations } from './collect/perimeterConfigurations.js';
import type { Policy } from './config/policy.js';
import type { Observed } from './domain/observed.js';
import { idKey } from './domain/resourceId.js';
import { catalogEntry, type Finding } from './domain/rule.js';
import type { AccountSnapshot } from './domain/snapshot.js';
import { activeRules, evaluateAccount } from './engine/evaluate.js';
import { applyExemptions } from './engine/exemptions.js';
import { SummaryBuilder } from './engine/summary.js';
import { perimeterCapable } from './rules/facts.js';
import { type Baseline, loadBaseline } from './engine/diff.js';
import { REPORT_FORMATS, type ReportFormat, reportArtifacts } from './reports/index.js';
import { RULES } from './rules/index.js';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished as streamFinished } from 'node:stream/promises';
import { type AccountState, stateOf } from './events/state.js';
import { fileArtifact, fileFindings, writeChunk } from './store/artifact.js';
import { newScanId, type ScanDocument } from './store/scanDocument.js';
import type { FindingSource } from './store/artifact.js';
import type { ScanStore, StoredScan } from './store/stores.js';
import { faultPoint } from './testing/faults.js';

/**
 * The scan use-case: scope → collect → normalize → deep inspection → evaluate → store.
 * Every entry point (timer, CLI, demo) runs this one function (ARCHITECTURE.md, "The one flow").
 */

export interface ScanOptions {
  readonly scope: ScanScope;
  readonly policy: Policy;
  readonly clients: AzureClients;
  /** Where the scan is written; each store commits after its own files. */
  readonly stores: readonly ScanStore[];
  /** Concurrent per-account ARM reads during deep inspection (count). Default 8. */
  readonly deepConcurrency?: number;
  /** Report formats written beside the scan files. Default: all (json, csv, sarif, html). */
  readonly formats?: readonly ReportFormat[];
  /** The scan's ID when the caller allotted one (an on-demand scan); default a new one. */
  readonly scanId?: string;
  /**
   * Runs after every store committed the scan, with the scan that was current before it (alerting
   * hooks in here). Its errors are logged, never thrown: the scan is already stored.
   */
  readonly afterCommit?: (o: {
    scan: ScanDocument;
    previous: StoredScan | undefined;
    current: FindingSource;
    /** Each account's state (its outcomes and the IDs change events route by); built only when this hook is set. */
    states: readonly AccountState[];
  }) => Promise<unknown>;
  /**
   * Keep every finding in memory and return it in `ScanResult.findings` (tests, small tenants).
   * Default false: findings are streamed to a temporary NDJSON file and from there to the stores,
   * so a 100,000-account scan holds one account's findings at a time.
   */
  readonly retainFindings?: boolean;
  /** Directory for the temporary findings file. Default the OS temporary directory. */
  readonly workDir?: string;
  readonly log?: ProgressLog;
  readonly now?: () => Date;
}

export interface ScanResult {
  readonly scan: ScanDocument;
  /** Every finding when `retainFindings` was set; empty otherwise (read them from a store). */
  readonly findings: readonly Finding[];
}

/**
 * Runs one scan and writes it to every store.
 * @throws ScanSetupError when the subscriptions in scope cannot be listed; a store's I/O error when
 *   a write fails (stores written before it keep the new scan, the failing one keeps its previous).
 */
export async function runScan(options: ScanOptions): Promise<ScanResult> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const started = now();
  const scanId = options.scanId ?? newScanId(started);
  const { policy, clients } = options;
  const params = policy.parameters;
  log(`scan ${scanId} started`);
  // Clients may serve several scans (the demo): count this scan's requests only.
  const counters = () => ({
    pages: clients.graph.pages,
    graph: clients.graphStats.requests,
    arm: clients.armStats.requests,
    throttled: clients.graphStats.throttled + clients.armStats.throttled,
  });
  const before = counters();

  // The policy's scope applies when the caller named none (CLI flags and settings come first).
  const include = policy.scope.include;
  const scope
    = options.scope.subscriptions.length + options.scope.managementGroups.length > 0
      ? options.scope
      : { subscriptions: include.subscriptions, managementGroups: include.managementGroups };
  const raw = await collectInventory(clients.graph, scope, log, {
    subscriptions: policy.scope.exclude.subscriptions,
    managementGroups: policy.scope.exclude.managementGroups,
  });
  const evaluated = await evaluateInventory({
    raw,
    policy,
    clients,
    scanId,
    log,
    now,
    deepConcurrency: options.deepConcurrency ?? 8,
    ...(options.workDir ? { workDir: options.workDir } : {}),
    retainFindings: options.retainFindings ?? false,
    keepStates: options.afterCommit !== undefined,
  });
  const { spill, summary, rules, problems, deepRead, deepFailed, accountCount, retained, states } = evaluated;
  try {
    return await finishScan();
  } finally {
    await rm(spill, { force: true });
  }

  async function finishScan(): Promise<ScanResult> {
    const placeholder = { kind: 'scan' as const, id: scanId, at: '' };

    const tables = (Object.keys(raw.tables) as Array<keyof typeof raw.tables>).map((name) => {
      const t = raw.tables[name];
      return t.failure === undefined
        ? { type: TABLES[name].type, rows: t.rows.length, status: 'read' as const }
        : { type: TABLES[name].type, rows: t.rows.length, status: 'failed' as const, reason: t.failure };
    });
    const partial
      = raw.subscriptions.some((s) => s.status === 'unreadable')
        || tables.some((t) => t.status === 'failed')
        || problems.length > 0
        || deepFailed > 0;
    const finished = now();
    const scan: ScanDocument = {
      schemaVersion: 1,
      scanId,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      status: partial ? 'partial' : 'complete',
      scope: {
        subscriptions: [...scope.subscriptions],
        managementGroups: [...scope.managementGroups],
        deepInspection: params.deepInspection,
        ...(include.resourceGroups.length ? { resourceGroups: [...include.resourceGroups] } : {}),
        ...(policy.scope.exclude.subscriptions.length + policy.scope.exclude.managementGroups.length + policy.scope.exclude.resourceGroups.length
          ? { excluded: policy.scope.exclude }
          : {}),
      },
      coverage: {
        subscriptions: raw.subscriptions,
        accounts: accountCount,
        tables,
        deepInspection: { accounts: deepRead, failed: deepFailed },
        problems,
      },
      rules: rules.map(catalogEntry),
      summary: summary.build(),
      stats: (() => {
        const after = counters();
        return {
          durationMs: finished.getTime() - started.getTime(),
          resourceGraphPages: after.pages - before.pages,
          resourceGraphRequests: after.graph - before.graph,
          armRequests: after.arm - before.arm,
          throttledResponses: after.throttled - before.throttled,
        };
      })(),
    };
    const previous = await previousScan(options.stores, log);
    let baseline: Baseline | undefined;
    if (previous) baseline = await loadBaseline(previous.scan.scanId, previous.scan.finishedAt, previous.findings).catch(() => undefined);
    const source = fileFindings(spill);
    const artifacts = [fileArtifact('findings.ndjson', 'application/x-ndjson', spill), ...reportArtifacts(scan, source, options.formats ?? REPORT_FORMATS, baseline)];
    for (const store of options.stores) {
      await store.save(scan, artifacts);
      log(`written to ${store.location}`);
    }
    if (options.afterCommit) {
      const at = { ...placeholder, at: scan.finishedAt };
      try {
        await options.afterCommit({ scan, previous, current: source, states: states.map((s) => ({ ...s, source: at })) });
      } catch (error) {
        log(`after-commit step failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return { scan, findings: retained };
  }
}

/** What `evaluateInventory` produced. */
export interface EvaluatedInventory {
  /** Temporary NDJSON file of the findings, one account's findings after another; the caller removes it. */
  readonly spill: string;
  readonly summary: SummaryBuilder;
  readonly rules: ReturnType<typeof activeRules>;
  /** Unusable rows and failed rule evaluations, in words. */
  readonly problems: string[];
  readonly accountCount: number;
  readonly deepRead: number;
  readonly deepFailed: number;
  readonly retained: Finding[];
  /** Account states without their final source time (empty unless `keepStates`). */
  readonly states: AccountState[];
}

/**
 * Normalize → deep inspection → evaluate → findings file, for a raw inventory: the part of a scan
 * after collection, shared by the single-process scan and a shard of a fanned-out scan.
 * @throws the file system's error when the temporary findings file cannot be written (it is removed).
 */
export async function evaluateInventory(o: {
  raw: RawInventory;
  policy: Policy;
  clients: AzureClients;
  scanId: string;
  log: ProgressLog;
  now: () => Date;
  /** Most perimeter-configuration reads in flight (count). */
  deepConcurrency: number;
  workDir?: string;
  retainFindings: boolean;
  keepStates: boolean;
}): Promise<EvaluatedInventory> {
  const { raw, policy, clients, scanId, log, now } = o;
  const params = policy.parameters;
  const include = policy.scope.include;
  const prepared = prepareTenant(raw);
  const rgKey = (a: { subscriptionId: string; resourceGroup: string }) => `/subscriptions/${a.subscriptionId}/resourcegroups/${a.resourceGroup}`.toLowerCase();
  const rgIn = new Set(include.resourceGroups.map((r) => r.toLowerCase()));
  const rgOut = new Set(policy.scope.exclude.resourceGroups.map((r) => r.toLowerCase()));
  const rgSeen = new Set<string>();
  const inScope = (a: AccountSnapshot) => {
    const key = rgKey(a);
    if (rgIn.size > 0 && !rgIn.has(key)) return false;
    rgSeen.add(key);
    return !rgOut.has(key);
  };
  // Accounts are normalized lazily, one at a time, from the rows kept as text (sorted by ID so the
  // findings' order does not depend on paging); a second pass re-normalizes them after deep inspection.
  const accountRows = sortedById(raw.tables.accounts.rows);
  const accountsInScope = function* () {
    for (const a of normalizeAccounts({ rows: accountRows }, prepared)) if (inScope(a)) yield a;
  };

  let deepRead = 0;
  let deepFailed = 0;
  let configs = new Map<string, Observed<readonly unknown[]>>();
  if (params.deepInspection) {
    // Accounts with an association row need their configurations (NSP-05, NSP-06); others cannot be
    // associated, so reading theirs would change no verdict.
    const candidates: DeepTarget[] = [];
    for (const a of accountsInScope()) {
      const capable = perimeterCapable(a, params);
      if (capable.ok && capable.value && a.associations.ok && a.associations.value.length > 0)
        candidates.push({ id: a.id, subscriptionId: a.subscriptionId, resourceGroup: a.resourceGroup, name: a.name });
    }
    log(`deep inspection: ${candidates.length} account(s)`);
    configs = await readPerimeterConfigurations(candidates, clients.cognitiveServicesFor, {
      maxConcurrency: o.deepConcurrency,
      throttled: () => clients.armStats.throttled,
    });
  }

  const rules = activeRules(RULES, policy.enabledRules, params.deepInspection, policy.severities);
  const evaluatedAt = now();
  const ctx = { params, tenant: prepared.tenant };
  const summary = new SummaryBuilder(rules.map((r) => r.id));
  const retained: Finding[] = [];
  const states: AccountState[] = [];
  const problems = prepared.problems;
  const spill = join(o.workDir ?? tmpdir(), `perimeter-auditor-${scanId}-${process.pid}.ndjson`);
  const out = createWriteStream(spill, { encoding: 'utf8' });
  const closed = streamFinished(out);
  let accountCount = 0;
  const placeholder = { kind: 'scan' as const, id: scanId, at: '' };
  try {
    for (const normalizedAccount of accountsInScope()) {
      let account = normalizedAccount;
      const c = configs.get(idKey(account.id));
      if (c !== undefined) {
        deepRead += 1;
        if (!c.ok) deepFailed += 1;
        account = withPerimeterConfigurations(account, c);
      }
      accountCount += 1;
      const onError = (ruleId: string, resourceId: string, error: unknown) => {
        problems.push(`rule ${ruleId} failed on ${resourceId}: ${error instanceof Error ? error.message : String(error)}`);
      };
      const findings: Finding[] = [];
      let lines = '';
      for (const evaluated of evaluateAccount(account, rules, ctx, onError)) {
        const finding = applyExemptions(evaluated, policy, evaluatedAt);
        summary.add(finding);
        findings.push(finding);
        lines += `${JSON.stringify(finding)}\n`;
      }
      await writeChunk(out, lines);
      faultPoint('evaluation');
      if (o.retainFindings) retained.push(...findings);
      if (o.keepStates) states.push(stateOf(account, findings, placeholder));
    }
    out.end();
    await closed;
    log(`evaluated ${accountCount} account(s)`);
    // A resource group the policy includes and no account was found in may be a typo: say so.
    for (const rg of rgIn) if (!rgSeen.has(rg)) log(`warning: the policy includes resource group ${rg}, but no AI account was found in it (a typo?)`);
  } catch (error) {
    out.destroy();
    await rm(spill, { force: true });
    throw error;
  }
  return { spill, summary, rules, problems, accountCount, deepRead, deepFailed, retained, states };
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
