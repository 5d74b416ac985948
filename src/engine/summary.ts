import { type Finding, OUTCOMES, type Outcome, SEVERITIES, type Severity } from '../domain/rule.js';

/** Counts per outcome. */
export type OutcomeCounts = Record<Outcome, number>;

/** `scan.json` → `summary` (ARCHITECTURE.md): counts by outcome, by severity (each split by outcome), by rule. */
export interface ScanSummary {
  byOutcome: OutcomeCounts;
  bySeverity: Record<Severity, OutcomeCounts>;
  byRule: Record<string, OutcomeCounts>;
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
  };

  /** @param ruleIds rules to list even when they produce no finding (catalog order). */
  constructor(ruleIds: readonly string[] = []) {
    for (const id of ruleIds) this.summary.byRule[id] = zero();
  }

  add(finding: Finding): void {
    this.summary.byOutcome[finding.outcome] += 1;
    this.summary.bySeverity[finding.severity][finding.outcome] += 1;
    const byRule = this.summary.byRule[finding.ruleId] ?? zero();
    byRule[finding.outcome] += 1;
    this.summary.byRule[finding.ruleId] = byRule;
  }

  build(): ScanSummary {
    return structuredClone(this.summary);
  }
}

/** True when any finding is a `fail` at or above `threshold` severity (CLI `--fail-on`). */
export function hasFailAtOrAbove(summary: ScanSummary, threshold: Severity): boolean {
  const rank = SEVERITIES.indexOf(threshold);
  return SEVERITIES.some((s, i) => i <= rank && summary.bySeverity[s].fail > 0);
}

export { OUTCOMES };
