import type { Finding, Outcome, Severity } from '../domain/rule.js';
import type { FindingSource } from '../store/artifact.js';
import type { ScanDocument } from '../store/scanDocument.js';

/**
 * What changed between a previous evaluation and the current one, by (rule, account): the one diff
 * behind the HTML report's "new / resolved since the previous scan", the scan digest and the
 * change-event alerts.
 *
 * - `opened`: now `fail`, before neither `pass` nor `fail` (absent, `unknown`, `not_applicable`).
 * - `regressed`: `pass` → `fail`.
 * - `resolved`: `fail` → `pass`; or `fail` → the account is gone (none of its pairs is evaluated
 *   now) and the current evaluation covered it: for a scan, the account's subscription is one the
 *   current scan read.
 *
 * Nothing else is a transition. A fail that turns `unknown` or `not_applicable` stays open: it is
 * neither new nor resolved. The accounts of a subscription the current scan could not read (or no
 * longer scopes) are not gone. A current finding with an exemption is no transition (an exempted
 * fail is not new; an exempted pass resolves nothing). A rule that no longer runs on an account
 * that is still there resolves nothing. The comparison is with the previous evaluation only: a pair
 * that was `unknown` there and fails now is `opened`.
 *
 * Memory: the previous side is a map of the previous passes and fails (`previousOutcomes`); the
 * current side is streamed, and only the accounts of previous fails are remembered. A report keeps
 * the previous fails only (`loadBaseline`), so its memory grows with the previous fails, not the
 * findings; it then sees a `pass` → `fail` as `opened` rather than `regressed`, which leaves
 * `opened + regressed` (the report's "new") unchanged.
 */

/** Stable key of a (rule, account) pair: resource IDs compare case-insensitively. */
export function findingKey(f: Pick<Finding, 'ruleId' | 'resourceId'>): string {
  return `${f.ruleId}|${f.resourceId.toLowerCase()}`;
}

export type TransitionKind = 'opened' | 'regressed' | 'resolved';

export interface Transition {
  readonly kind: TransitionKind;
  readonly ruleId: string;
  readonly severity: Severity;
  readonly resourceId: string;
  readonly accountName: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** The outcome before (`absent` when the pair was neither pass nor fail, or not known). */
  readonly from: Outcome | 'absent';
  /** The outcome now (`absent` when the account is gone). */
  readonly to: Outcome | 'absent';
  /** The current message (or the last one, for a resolved pair whose account is gone). */
  readonly message: string;
}

/** A transition of a pair evaluated now, with the findings on both sides (for reports that show them). */
export interface PairChange {
  readonly kind: TransitionKind;
  /** The finding now. */
  readonly current: Finding;
  /** The previous pass or fail; undefined for `opened`. */
  readonly previous: Finding | undefined;
}

/** A previous fail resolved because its account is gone. */
export interface GoneChange {
  readonly kind: 'resolved';
  readonly current: undefined;
  readonly previous: Finding;
}

export type Change = PairChange | GoneChange;

/** Previous outcomes of the pairs that matter for transitions: fails and passes only. */
export type PreviousOutcomes = ReadonlyMap<string, { readonly outcome: 'pass' | 'fail'; readonly finding: Finding }>;

/**
 * Reads the previous outcomes of a stored evaluation: fails and passes, or fails only (`'fails'`,
 * see the memory note above).
 */
export async function previousOutcomes(findings: FindingSource, keep: 'fails' | 'fails and passes' = 'fails and passes'): Promise<PreviousOutcomes> {
  const map = new Map<string, { outcome: 'pass' | 'fail'; finding: Finding }>();
  for await (const f of findings()) {
    if (f.outcome === 'fail' || (f.outcome === 'pass' && keep === 'fails and passes')) map.set(findingKey(f), { outcome: f.outcome, finding: f });
  }
  return map;
}

/** A previous scan as a report compares with it: its fails only. */
export interface Baseline {
  readonly scanId: string;
  readonly finishedAt: string;
  /** Its fails, by `findingKey`. */
  readonly outcomes: PreviousOutcomes;
}

/** Reads the fails of a stored scan. */
export async function loadBaseline(scanId: string, finishedAt: string, findings: FindingSource): Promise<Baseline> {
  return { scanId, finishedAt, outcomes: await previousOutcomes(findings, 'fails') };
}

/** The coverage rule of a scan: a previous finding is covered when the current scan read its subscription. */
export function readBy(scan: Pick<ScanDocument, 'coverage'>): (previous: Finding) => boolean {
  const read = new Set(scan.coverage.subscriptions.filter((s) => s.status === 'read').map((s) => s.id.toLowerCase()));
  return (f) => read.has(f.subscriptionId.toLowerCase());
}

/**
 * The diff, fed one current finding at a time (`observe`), then asked for the pairs resolved
 * because their account is gone (`gone`). `isCovered` limits "gone" to accounts the current
 * evaluation was responsible for (a scan: `readBy(scan)`; a change event: its account).
 */
export class TransitionDiff {
  /** Accounts of previous fails (lower-case IDs), and those of them seen now. */
  private readonly failAccounts = new Set<string>();
  private readonly present = new Set<string>();

  constructor(
    private readonly previous: PreviousOutcomes,
    private readonly isCovered: (previous: Finding) => boolean = () => true,
  ) {
    for (const before of previous.values()) if (before.outcome === 'fail') this.failAccounts.add(before.finding.resourceId.toLowerCase());
  }

  /** The transition of one current finding, if any. */
  observe(f: Finding): PairChange | undefined {
    const account = f.resourceId.toLowerCase();
    if (this.failAccounts.has(account)) this.present.add(account);
    if (f.exemption) return undefined;
    const before = this.previous.get(findingKey(f));
    if (f.outcome === 'fail') {
      if (before?.outcome === 'pass') return { kind: 'regressed', current: f, previous: before.finding };
      if (before?.outcome !== 'fail') return { kind: 'opened', current: f, previous: undefined };
    } else if (f.outcome === 'pass' && before?.outcome === 'fail') {
      return { kind: 'resolved', current: f, previous: before.finding };
    }
    return undefined;
  }

  /**
   * Previous fails whose account is gone and covered: resolved. Call after the last `observe`.
   * @param isCovered the coverage rule, when it is known only now (a scan's report: its final coverage); default the constructor's
   */
  * gone(isCovered: (previous: Finding) => boolean = this.isCovered): Generator<GoneChange> {
    for (const before of this.previous.values()) {
      if (before.outcome !== 'fail' || this.present.has(before.finding.resourceId.toLowerCase()) || !isCovered(before.finding)) continue;
      yield { kind: 'resolved', current: undefined, previous: before.finding };
    }
  }
}

/** A change as an alert item. */
export function transitionOf(c: Change): Transition {
  const f = c.current ?? c.previous;
  return {
    kind: c.kind,
    ruleId: f.ruleId,
    severity: f.severity,
    resourceId: f.resourceId,
    accountName: f.accountName,
    subscriptionId: f.subscriptionId,
    resourceGroup: f.resourceGroup,
    from: c.previous?.outcome ?? 'absent',
    to: c.current?.outcome ?? 'absent',
    message: f.message,
  };
}

/** Every transition from `previous` to the current findings (see the rule above). */
export async function computeTransitions(
  previous: PreviousOutcomes,
  current: FindingSource,
  isCovered?: (previous: Finding) => boolean,
): Promise<Transition[]> {
  const diff = new TransitionDiff(previous, isCovered);
  const out: Transition[] = [];
  for await (const f of current()) {
    const c = diff.observe(f);
    if (c) out.push(transitionOf(c));
  }
  for (const c of diff.gone()) out.push(transitionOf(c));
  return out;
}
