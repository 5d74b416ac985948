import { type Finding, OUTCOMES, type Outcome, SEVERITIES, type Severity } from '../domain/rule.js';

/** Counts per outcome. */
export type OutcomeCounts = Record<Outcome, number>;

/** `scan.json` → `summary` (ARCHITECTURE.md): counts by outcome, by severity (each split by outcome), by rule. */
export interface ScanSummary {
  /** Real outcomes, exempted findings included. */
  byOutcome: OutcomeCounts;
  bySeverity: Record<Severity, OutcomeCounts>;
  byRule: Record<string, OutcomeCounts>;
  /** Exempted findings, counted separately (issue: policy): by outcome, and their fails by severity and rule. */
  exempted: { byOutcome: OutcomeCounts; failsBySeverity: Record<Severity, number>; failsByRule: Record<string, number> };
  /** Findings whose matching exemption has expired (count). */
  expiredExemptions: number;
  /**
   * Accounts evaluated, by state (counts): `compliant` has no `fail` and no `unknown`; `withFail` has
   * a fail (exempted or not); `withUnknown` has an unknown. Absent in scans written before it existed.
   */
  accounts?: { evaluated: number; compliant: number; withFail: number; withUnknown: number };
}

function zero(): OutcomeCounts {
  return { pass: 0, fail: 0, not_applicable: 0, unknown: 0 };
}

/** Accumulates a summary one finding at a time, so findings can be streamed. */
export class SummaryBuilder {
  private readonly summary: ScanSummary = {
    byOutcome: zero(),
    bySeverity: Object.fromEntries(SEVERITIES.map((s) => [s, zero()])) as Record<Severity, OutcomeCounts>,
    byRule: {},
    exempted: { byOutcome: zero(), failsBySeverity: { high: 0, medium: 0, low: 0 }, failsByRule: {} },
    expiredExemptions: 0,
  };

  private readonly accounts = { evaluated: 0, compliant: 0, withFail: 0, withUnknown: 0 };
  private current: { id: string; key: string; fail: boolean; unknown: boolean } | undefined;

  /** @param ruleIds rules to list even when they produce no finding (catalog order). */
  constructor(ruleIds: readonly string[] = []) {
    for (const id of ruleIds) this.summary.byRule[id] = zero();
  }

  private closeAccount(): void {
    const c = this.current;
    if (!c) return;
    this.accounts.evaluated += 1;
    if (c.fail) this.accounts.withFail += 1;
    if (c.unknown) this.accounts.withUnknown += 1;
    if (!c.fail && !c.unknown) this.accounts.compliant += 1;
    this.current = undefined;
  }

  /** Adds a finding. Findings arrive grouped by account (the scan writes one account's findings after another). */
  add(finding: Finding): void {
    // The same resource ID as the last finding's is the same account, without lower-casing it again.
    if (this.current?.id !== finding.resourceId) {
      const key = finding.resourceId.toLowerCase();
      if (this.current?.key !== key) {
        this.closeAccount();
        this.current = { id: finding.resourceId, key, fail: false, unknown: false };
      } else {
        this.current.id = finding.resourceId;
      }
    }
    if (finding.outcome === 'fail') this.current.fail = true;
    if (finding.outcome === 'unknown') this.current.unknown = true;
    this.summary.byOutcome[finding.outcome] += 1;
    this.summary.bySeverity[finding.severity][finding.outcome] += 1;
    const byRule = this.summary.byRule[finding.ruleId] ?? zero();
    byRule[finding.outcome] += 1;
    this.summary.byRule[finding.ruleId] = byRule;
    if (finding.exemption) {
      const ex = this.summary.exempted;
      ex.byOutcome[finding.outcome] += 1;
      if (finding.outcome === 'fail') {
        ex.failsBySeverity[finding.severity] += 1;
        ex.failsByRule[finding.ruleId] = (ex.failsByRule[finding.ruleId] ?? 0) + 1;
      }
    }
    if (finding.expiredExemption) this.summary.expiredExemptions += 1;
  }

  /** The summary so far; call once all findings are added. */
  build(): ScanSummary {
    this.closeAccount();
    return structuredClone({ ...this.summary, accounts: { ...this.accounts } });
  }
}

/** True when any finding is a `fail` at or above `threshold` severity that no exemption covers (CLI `--fail-on`). */
export function hasFailAtOrAbove(summary: ScanSummary, threshold: Severity): boolean {
  const rank = SEVERITIES.indexOf(threshold);
  return SEVERITIES.some((s, i) => i <= rank && summary.bySeverity[s].fail - (summary.exempted?.failsBySeverity[s] ?? 0) > 0);
}

export { OUTCOMES };
