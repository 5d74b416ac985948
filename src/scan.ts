import type { AzureClients } from './collect/clients.js';
import { collectInventory, type ProgressLog, type ScanScope } from './collect/collector.js';
import { TABLES } from './collect/inventory.js';
import { normalize, withPerimeterConfigurations } from './collect/normalize.js';
import { readPerimeterConfigurations } from './collect/perimeterConfigurations.js';
import type { Policy } from './config/policy.js';
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
import { findingsArtifact, memoryFindings } from './store/artifact.js';
import { newScanId, type ScanDocument } from './store/scanDocument.js';
import type { FindingSource } from './store/artifact.js';
import type { ScanStore, StoredScan } from './store/stores.js';

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
    accounts: readonly AccountSnapshot[];
    findings: readonly Finding[];
  }) => Promise<unknown>;
  readonly log?: ProgressLog;
  readonly now?: () => Date;
}

export interface ScanResult {
  readonly scan: ScanDocument;
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
  const normalized = normalize(raw);
  const rgKey = (a: { subscriptionId: string; resourceGroup: string }) => `/subscriptions/${a.subscriptionId}/resourcegroups/${a.resourceGroup}`.toLowerCase();
  const rgIn = new Set(include.resourceGroups.map((r) => r.toLowerCase()));
  const rgOut = new Set(policy.scope.exclude.resourceGroups.map((r) => r.toLowerCase()));
  let accounts = normalized.accounts.filter((a) => (rgIn.size === 0 || rgIn.has(rgKey(a))) && !rgOut.has(rgKey(a)));

  let deepRead = 0;
  let deepFailed = 0;
  if (params.deepInspection) {
    // Accounts with an association row need their configurations (NSP-05, NSP-06); others cannot be
    // associated, so reading theirs would change no verdict.
    const candidates = accounts.filter((a) => {
      const capable = perimeterCapable(a, params);
      return capable.ok && capable.value && a.associations.ok && a.associations.value.length > 0;
    });
    log(`deep inspection: ${candidates.length} account(s)`);
    const configs = await readPerimeterConfigurations(
      candidates,
      clients.cognitiveServicesFor,
      options.deepConcurrency ?? 8,
    );
    accounts = accounts.map((a) => {
      const c = configs.get(idKey(a.id));
      if (c === undefined) return a;
      deepRead += 1;
      if (!c.ok) deepFailed += 1;
      return withPerimeterConfigurations(a, c);
    });
  }

  const rules = activeRules(RULES, policy.enabledRules, params.deepInspection, policy.severities);
  const evaluatedAt = now();
  const ctx = { params, tenant: normalized.tenant };
  const summary = new SummaryBuilder(rules.map((r) => r.id));
  const findings: Finding[] = [];
  const problems = [...normalized.problems];
  for (const account of accounts) {
    const onError = (ruleId: string, resourceId: string, error: unknown) => {
      problems.push(`rule ${ruleId} failed on ${resourceId}: ${error instanceof Error ? error.message : String(error)}`);
    };
    for (const evaluated of evaluateAccount(account, rules, ctx, onError)) {
      const finding = applyExemptions(evaluated, policy, evaluatedAt);
      summary.add(finding);
      findings.push(finding);
    }
  }

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
      accounts: accounts.length,
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
  const source = memoryFindings(findings);
  const artifacts = [findingsArtifact(source), ...reportArtifacts(scan, source, options.formats ?? REPORT_FORMATS, baseline)];
  for (const store of options.stores) {
    await store.save(scan, artifacts);
    log(`written to ${store.location}`);
  }
  if (options.afterCommit) {
    try {
      await options.afterCommit({ scan, previous, current: source, accounts, findings });
    } catch (error) {
      log(`after-commit step failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { scan, findings };
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
