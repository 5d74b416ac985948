import type { EvaluatedFinding, Outcome, Rule, RuleContext } from '../domain/rule.js';
import type { AccountSnapshot } from '../domain/snapshot.js';

/**
 * The codes of verdicts the engine gives itself, before or instead of a rule's `evaluate`:
 * applicability unread (`unknown`), not applicable, and a rule that threw (`unknown`).
 */
export const ENGINE_CODES = {
  applicabilityUnread: 'applicability-unread',
  notApplicable: 'not-applicable',
  ruleError: 'rule-error',
} as const;

/** Called when a rule throws; the pair still gets an `unknown` finding. */
export type RuleErrorHandler = (ruleId: string, resourceId: string, error: unknown) => void;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Evaluates the given rules over one account: exactly one finding per rule (RULES.md, "Outcomes").
 *
 * Applicability is decided first: known false → `not_applicable` (message: why), unknown →
 * `unknown` (message: what was not read). A rule that throws yields `unknown` for that pair and a
 * call to `onError`; it never stops the scan. Pure apart from `onError`.
 */
export function evaluateAccount(
  account: AccountSnapshot,
  rules: readonly Rule[],
  ctx: RuleContext,
  onError?: RuleErrorHandler,
): EvaluatedFinding[] {
  const kind = account.kind.ok ? account.kind.value : null;
  const base = {
    resourceId: account.id,
    subscriptionId: account.subscriptionId,
    resourceGroup: account.resourceGroup,
    accountName: account.name,
    kind,
    location: account.location,
    tags: account.tags,
  };
  return rules.map((rule): EvaluatedFinding => {
    let outcome: Outcome;
    let code: string;
    let message: string;
    let evidence: Readonly<Record<string, unknown>> = {};
    try {
      const applies = rule.appliesTo(account, ctx);
      if (!applies.ok) {
        outcome = 'unknown';
        code = ENGINE_CODES.applicabilityUnread;
        message = `Whether the rule applies could not be decided: ${applies.reason}`;
      } else if (!applies.value) {
        outcome = 'not_applicable';
        code = ENGINE_CODES.notApplicable;
        message = `Not applicable: ${applies.why}.`;
      } else {
        const verdict = rule.evaluate(account, ctx);
        outcome = verdict.outcome;
        code = verdict.code;
        message = verdict.message;
        evidence = verdict.evidence ?? {};
      }
    } catch (error) {
      onError?.(rule.id, account.id, error);
      outcome = 'unknown';
      code = ENGINE_CODES.ruleError;
      message = `The rule could not be evaluated: ${errorText(error)}`;
      evidence = {};
    }
    // The keys in the order the findings file has always had them (`ruleId`, then `base`'s, then the verdict's), spelled out: no spread per finding.
    return {
      ruleId: rule.id,
      resourceId: base.resourceId,
      subscriptionId: base.subscriptionId,
      resourceGroup: base.resourceGroup,
      accountName: base.accountName,
      kind: base.kind,
      location: base.location,
      tags: base.tags,
      outcome,
      code,
      severity: rule.severity,
      message,
      evidence,
    };
  });
}

/**
 * The rules that run for a policy: enabled ones, less those needing deep inspection when it is off
 * (RULES.md: NSP-05 and NSP-06 run only with deep inspection).
 */
export function activeRules(
  rules: readonly Rule[],
  enabled: ReadonlySet<string>,
  deepInspection: boolean,
  severities: ReadonlyMap<string, Rule['severity']> = new Map(),
): Rule[] {
  return rules
    .filter((r) => enabled.has(r.id) && (deepInspection || !r.deepInspection))
    .map((r) => {
      const severity = severities.get(r.id);
      return severity && severity !== r.severity ? { ...r, severity } : r;
    });
}
