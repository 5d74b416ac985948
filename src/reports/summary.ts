import type { Finding, Outcome, RuleCatalogEntry } from '../domain/rule.js';
import type { OutcomeCounts } from '../engine/summary.js';
import type { ScanDocument } from '../store/scanDocument.js';
import { complianceHeadline, coverageOf } from './coverage.js';

/**
 * `report.json`: the scan's counts for other tools — by outcome, severity, rule, control (MCSB,
 * CIS, Azure Policy) and subscription — plus account-level compliance. Built in one streaming pass
 * (reports/writer.ts).
 */
export interface ReportSummary {
  readonly schemaVersion: 1;
  readonly scanId: string;
  readonly status: ScanDocument['status'];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly accounts: {
    readonly total: number;
    /** Accounts with no `fail` and no `unknown` (count). */
    readonly compliant: number;
    readonly withFail: number;
    readonly withUnknown: number;
    /** compliant ÷ total × 100, one decimal, over the accounts read; null when no account was read. */
    readonly compliantPercent: number | null;
  };
  /** The compliance headline in words, over what was read (coverage.ts). */
  readonly headline: string;
  readonly byOutcome: OutcomeCounts;
  readonly bySeverity: ScanDocument['summary']['bySeverity'];
  readonly byRule: Record<string, OutcomeCounts>;
  readonly byControl: {
    readonly mcsb: Record<string, OutcomeCounts>;
    readonly cis: Record<string, OutcomeCounts>;
    readonly azurePolicy: Record<string, OutcomeCounts>;
  };
  readonly bySubscription: Record<string, OutcomeCounts & { accounts: number }>;
  /** Exempted findings (counted in the outcome counts above too), and findings whose exemption expired. */
  readonly exempted: ScanDocument['summary']['exempted'];
  readonly expiredExemptions: number;
  /** What the scan read (coverage.ts): every summary carries it. */
  readonly coverage: {
    readonly subscriptionsInScope: number;
    readonly subscriptionsRead: number;
    readonly subscriptionsUnreadable: number;
    readonly accountsRead: number;
    readonly tablesNotRead: number;
    readonly deepReadsFailed: number;
    readonly problems: number;
    /** The coverage in one line of words. */
    readonly text: string;
  };
}

function zero(): OutcomeCounts {
  return { pass: 0, fail: 0, not_applicable: 0, unknown: 0 };
}

function bump(map: Record<string, OutcomeCounts>, key: string, outcome: Outcome): void {
  const c = map[key] ?? zero();
  c[outcome] += 1;
  map[key] = c;
}

/** An account has a fail (`ReportAggregator` flags). */
const FAIL_FLAG = 1;
/** An account has an unknown. */
const UNKNOWN_FLAG = 2;

/**
 * Accumulates everything the summary and the HTML report count, one finding at a time (one
 * aggregator serves both in the report writer's single pass). Findings come grouped by account, as
 * every writer of findings.ndjson writes them (a shard writes an account's findings together; the
 * HTML page's account table relies on it too): an account is counted when its run of findings ends,
 * so memory holds counters, not one entry per account (100,000 at the largest tenants measured).
 */
export class ReportAggregator {
  private readonly ruleIndex: Map<string, RuleCatalogEntry>;
  /** Accounts counted (runs ended), and of them with a fail, with an unknown, with neither. */
  private accounts = 0;
  private withFail = 0;
  private withUnknown = 0;
  private compliant = 0;
  /** The current run's account (lower-case ID; undefined before the first finding) and its FAIL_FLAG / UNKNOWN_FLAG. */
  private runKey: string | undefined;
  private runFlags = 0;
  readonly byOutcome = zero();
  readonly byRule: Record<string, OutcomeCounts> = {};
  readonly mcsb: Record<string, OutcomeCounts> = {};
  readonly cis: Record<string, OutcomeCounts> = {};
  readonly azurePolicy: Record<string, OutcomeCounts> = {};
  readonly bySubscription: Record<string, OutcomeCounts & { accounts: number }> = {};
  /** The last finding's resource ID (its run's key is `runKey`). */
  private lastId: string | undefined;

  /** @param rules the scan's rules: each is counted (zero when it produced no finding) with its controls */
  constructor(rules: readonly RuleCatalogEntry[]) {
    this.ruleIndex = new Map(rules.map((r) => [r.id, r]));
    for (const r of rules) {
      this.byRule[r.id] = zero();
      for (const c of r.controls.mcsb) this.mcsb[c] ??= zero();
      for (const c of r.controls.cis) this.cis[c] ??= zero();
      for (const p of r.controls.azurePolicy) this.azurePolicy[p] ??= zero();
    }
  }

  /** Counts one finding; an account's findings come one after another (grouped by account). */
  add(f: Finding): void {
    this.byOutcome[f.outcome] += 1;
    bump(this.byRule, f.ruleId, f.outcome);
    const rule = this.ruleIndex.get(f.ruleId);
    for (const c of rule?.controls.mcsb ?? []) bump(this.mcsb, c, f.outcome);
    for (const c of rule?.controls.cis ?? []) bump(this.cis, c, f.outcome);
    for (const p of rule?.controls.azurePolicy ?? []) bump(this.azurePolicy, p, f.outcome);
    let first = false;
    if (f.resourceId !== this.lastId) {
      this.lastId = f.resourceId;
      const key = f.resourceId.toLowerCase();
      if (key !== this.runKey) {
        this.endRun();
        this.runKey = key;
        first = true;
      }
    }
    const sub = (this.bySubscription[f.subscriptionId] ??= { ...zero(), accounts: 0 });
    if (first) sub.accounts += 1;
    sub[f.outcome] += 1;
    this.runFlags |= f.outcome === 'fail' ? FAIL_FLAG : f.outcome === 'unknown' ? UNKNOWN_FLAG : 0;
  }

  /** Counts the account whose run of findings ended. */
  private endRun(): void {
    if (this.runKey === undefined) return;
    this.accounts += 1;
    if (this.runFlags & FAIL_FLAG) this.withFail += 1;
    if (this.runFlags & UNKNOWN_FLAG) this.withUnknown += 1;
    if (this.runFlags === 0) this.compliant += 1;
    this.runKey = undefined;
    this.runFlags = 0;
  }

  /** The summary of the findings added, with `scan`'s identity, coverage and exemption counts; after the last `add`. */
  summary(scan: ScanDocument): ReportSummary {
    this.endRun();
    this.lastId = undefined;
    const { accounts: total, withFail, withUnknown, compliant } = this;
    const s = scan;
    const coverage = coverageOf(s);
    // scan.json's account count; `report` refuses a findings file that does not hold all of them.
    const headline = complianceHeadline(coverage, compliant);
    return {
      schemaVersion: 1,
      scanId: s.scanId,
      status: s.status,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      accounts: { total, compliant, withFail, withUnknown, compliantPercent: headline.percent },
      headline: headline.text,
      byOutcome: { ...this.byOutcome },
      bySeverity: s.summary.bySeverity,
      byRule: this.byRule,
      byControl: { mcsb: this.mcsb, cis: this.cis, azurePolicy: this.azurePolicy },
      bySubscription: this.bySubscription,
      exempted: s.summary.exempted ?? { byOutcome: zero(), failsBySeverity: { high: 0, medium: 0, low: 0 }, failsByRule: {} },
      expiredExemptions: s.summary.expiredExemptions ?? 0,
      coverage: {
        subscriptionsInScope: coverage.subscriptions.inScope,
        subscriptionsRead: coverage.subscriptions.read,
        subscriptionsUnreadable: coverage.subscriptions.unreadable,
        accountsRead: coverage.accountsRead,
        tablesNotRead: coverage.tablesNotRead,
        deepReadsFailed: coverage.deepReadsFailed,
        problems: coverage.problems,
        text: coverage.text,
      },
    };
  }
}

/** `report.json`'s text: the summary, indented by two spaces, and a newline. */
export function summaryText(summary: ReportSummary): string {
  return `${JSON.stringify(summary, null, 2)}\n`;
}
