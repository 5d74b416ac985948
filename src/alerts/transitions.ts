import type { Finding, Outcome, Severity } from '../domain/rule.js';
import { SEVERITIES } from '../domain/rule.js';
import { findingKey, type PreviousOutcomes, type Transition, type TransitionKind } from '../engine/diff.js';

/**
 * What is alert-specific about transitions: the last known state of an account as change events
 * keep it, and the severity filter and order of alert items. The transitions themselves, and the
 * one rule for what is opened, regressed and resolved, are engine/diff.ts's.
 */

/** Re-exported for src/events/evaluateChange.ts, which may import them from engine/diff.ts instead. */
export { computeTransitions, type Transition } from '../engine/diff.js';

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
