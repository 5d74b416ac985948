import type { Finding } from '../domain/rule.js';
import type { FindingSource } from '../store/artifact.js';

/**
 * What changed between two scans, by (rule, account). Only failing pairs are remembered, so a
 * baseline of a large tenant costs memory in proportion to its fails, not its findings.
 */

/** Stable key of a (rule, account) pair: resource IDs compare case-insensitively. */
export function findingKey(f: Pick<Finding, 'ruleId' | 'resourceId'>): string {
  return `${f.ruleId}|${f.resourceId.toLowerCase()}`;
}

/** The failing pairs of a previous scan. */
export interface Baseline {
  readonly scanId: string;
  readonly finishedAt: string;
  readonly failing: ReadonlyMap<string, Finding>;
}

/** Reads the fails of a stored scan. */
export async function loadBaseline(scanId: string, finishedAt: string, findings: FindingSource): Promise<Baseline> {
  const failing = new Map<string, Finding>();
  for await (const f of findings()) if (f.outcome === 'fail') failing.set(findingKey(f), f);
  return { scanId, finishedAt, failing };
}

/** New and resolved fails against a baseline, fed one current finding at a time. */
export class FailDiff {
  private readonly stillFailing = new Set<string>();
  /** Fails not in the baseline (count). */
  newCount = 0;
  /** The first `keep` new fails, for display. */
  readonly newFails: Finding[] = [];

  constructor(
    readonly baseline: Baseline,
    private readonly keep = 500,
  ) {}

  observe(f: Finding): void {
    if (f.outcome !== 'fail') return;
    const key = findingKey(f);
    if (this.baseline.failing.has(key)) {
      this.stillFailing.add(key);
      return;
    }
    this.newCount += 1;
    if (this.newFails.length < this.keep) this.newFails.push(f);
  }

  /** Fails of the baseline that no longer fail (now pass, unknown, n/a, or the account is gone). */
  resolved(): { count: number; findings: Finding[] } {
    const out: Finding[] = [];
    let count = 0;
    for (const [key, f] of this.baseline.failing) {
      if (this.stillFailing.has(key)) continue;
      count += 1;
      if (out.length < this.keep) out.push(f);
    }
    return { count, findings: out };
  }
}
