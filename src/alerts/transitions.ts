import type { Finding, Outcome, Severity } from '../domain/rule.js';
import { SEVERITIES } from '../domain/rule.js';
import { findingKey } from '../engine/diff.js';
import type { FindingSource } from '../store/artifact.js';

/**
 * What is alerted (issue: alert webhooks): transitions of a (rule, account) pair between the last
 * known state and now.
 *
 * - `opened`: now `fail`, before not `fail` and not `pass` (absent, unknown, not applicable): a new fail.
 * - `regressed`: `pass` → `fail`.
 * - `resolved`: `fail` → `pass`, or the account is gone.
 *
 * A fail that turns `unknown` or `not_applicable` stays open (nothing is alerted), so a fail that
 * flickers through `unknown` is never announced twice.
 */

export type TransitionKind = 'opened' | 'regressed' | 'resolved';

export interface Transition {
  readonly kind: TransitionKind;
  readonly ruleId: string;
  readonly severity: Severity;
  readonly resourceId: string;
  readonly accountName: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** The outcome before (`absent` when the pair was not known). */
  readonly from: Outcome | 'absent';
  /** The outcome now (`absent` when the account is gone). */
  readonly to: Outcome | 'absent';
  /** The current message (or the last one, for a resolved pair whose account is gone). */
  readonly message: string;
}

/** Previous outcomes of the pairs that matter for transitions: fails and passes only. */
export type PreviousOutcomes = ReadonlyMap<string, { readonly outcome: 'pass' | 'fail'; readonly finding: Finding }>;

/** Reads the fails and passes of a previous scan. */
export async function previousOutcomes(findings: FindingSource): Promise<PreviousOutcomes> {
  const map = new Map<string, { outcome: 'pass' | 'fail'; finding: Finding }>();
  for await (const f of findings()) {
    if (f.outcome === 'pass' || f.outcome === 'fail') map.set(findingKey(f), { outcome: f.outcome, finding: f });
  }
  return map;
}

/** An account's last known outcomes, as change events and scans keep them (src/events/state.ts). */
export interface KnownAccount {
  readonly accountId: string;
  readonly accountName: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly deleted: boolean;
  readonly findings: Readonly<Record<string, { outcome: Outcome; severity: Severity; message: string }>>;
  readonly source: { readonly kind: string; readonly at: string };
}

/** The passes and fails of a known account, keyed like `previousOutcomes`. */
export function knownOutcomes(s: KnownAccount): Map<string, { outcome: 'pass' | 'fail'; finding: Finding }> {
  const out = new Map<string, { outcome: 'pass' | 'fail'; finding: Finding }>();
  if (s.deleted) return out;
  for (const [ruleId, f] of Object.entries(s.findings)) {
    if (f.outcome !== 'pass' && f.outcome !== 'fail') continue;
    const finding: Finding = {
      ruleId,
      resourceId: s.accountId,
      outcome: f.outcome,
      severity: f.severity,
      message: f.message,
      subscriptionId: s.subscriptionId,
      resourceGroup: s.resourceGroup,
      accountName: s.accountName,
      kind: null,
      location: '',
      tags: {},
      evidence: {},
    };
    out.set(findingKey(finding), { outcome: f.outcome, finding });
  }
  return out;
}

/**
 * Overrides the previous scan's outcomes with what change events learned since (issue: alerts,
 * "the last known state"): for each account whose last event evaluation is newer than `since`, its
 * pairs take the event's outcomes, so a transition an event already alerted is not alerted again.
 */
export function withEventStates(previous: PreviousOutcomes, states: readonly KnownAccount[], since: string | undefined): PreviousOutcomes {
  const merged = new Map(previous);
  for (const s of states) {
    if (s.source.kind !== 'event' || (since !== undefined && s.source.at <= since)) continue;
    const account = s.accountId.toLowerCase();
    for (const key of [...merged.keys()]) if (key.slice(key.indexOf('|') + 1) === account) merged.delete(key);
    for (const [key, value] of knownOutcomes(s)) merged.set(key, value);
  }
  return merged;
}

function transition(kind: TransitionKind, f: Finding, from: Transition['from'], to: Transition['to']): Transition {
  return {
    kind,
    ruleId: f.ruleId,
    severity: f.severity,
    resourceId: f.resourceId,
    accountName: f.accountName,
    subscriptionId: f.subscriptionId,
    resourceGroup: f.resourceGroup,
    from,
    to,
    message: f.message,
  };
}

/**
 * Transitions from `previous` to the current findings. `coveredAccounts`, when given, limits
 * "the account is gone" to accounts the current evaluation was responsible for (a change event
 * covers one account; a scan covers every account of the subscriptions it read).
 */
export async function computeTransitions(
  previous: PreviousOutcomes,
  current: FindingSource,
  isCovered: (previous: Finding) => boolean = () => true,
): Promise<Transition[]> {
  const out: Transition[] = [];
  const seen = new Set<string>();
  for await (const f of current()) {
    const key = findingKey(f);
    seen.add(key);
    if (f.exemption) continue; // alerts skip exempted findings (issue: policy)
    const before = previous.get(key);
    if (f.outcome === 'fail') {
      if (before?.outcome === 'pass') out.push(transition('regressed', f, 'pass', 'fail'));
      else if (before?.outcome !== 'fail') out.push(transition('opened', f, before?.outcome ?? 'absent', 'fail'));
    } else if (f.outcome === 'pass' && before?.outcome === 'fail') {
      out.push(transition('resolved', f, 'fail', 'pass'));
    }
  }
  const currentAccounts = new Set<string>();
  for (const key of seen) currentAccounts.add(key.slice(key.indexOf('|') + 1));
  for (const [key, before] of previous) {
    if (seen.has(key) || before.outcome !== 'fail') continue;
    const account = key.slice(key.indexOf('|') + 1);
    // The account is gone only if none of its pairs is present now (a rule switched off is not "gone").
    if (!currentAccounts.has(account) && isCovered(before.finding)) out.push(transition('resolved', before.finding, 'fail', 'absent'));
  }
  return out;
}

/** Keeps transitions at or above `min` severity. */
export function atOrAbove(transitions: readonly Transition[], min: Severity): Transition[] {
  const rank = SEVERITIES.indexOf(min);
  return transitions.filter((t) => SEVERITIES.indexOf(t.severity) <= rank);
}

const KIND_ORDER: Readonly<Record<TransitionKind, number>> = { regressed: 0, opened: 1, resolved: 2 };

/** Worst first: severity, then regressed before opened before resolved, then account and rule. */
export function worstFirst(transitions: readonly Transition[]): Transition[] {
  return [...transitions].sort(
    (a, b) =>
      SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity)
      || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]
      || a.accountName.localeCompare(b.accountName)
      || a.ruleId.localeCompare(b.ruleId),
  );
}
