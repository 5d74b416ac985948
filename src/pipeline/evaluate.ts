import type { PreparedTenant } from '../collect/normalize.js';
import { withPerimeterConfigurations } from '../collect/normalize.js';
import type { Policy } from '../config/policy.js';
import type { Observed } from '../domain/observed.js';
import { idKey } from '../domain/resourceId.js';
import type { Finding, Rule, RuleParameters } from '../domain/rule.js';
import type { AccountSnapshot } from '../domain/snapshot.js';
import { activeRules, evaluateAccount } from '../engine/evaluate.js';
import { applyExemptions } from '../engine/exemptions.js';
import { cosmosAssignmentsOf } from '../rules/dataSources.js';
import { perimeterCapable } from '../rules/facts.js';
import { RULES } from '../rules/index.js';
import { type AccountState, stateOf } from '../store/accountState.js';

/**
 * Step 3's core (docs/architecture.md): one account snapshot → findings (exemptions applied) and
 * the account's state, the same for a scan's shard and a change event. A rule that throws is
 * `unknown` for that account and recorded as a problem; the evaluation goes on.
 */

/** What every account of one evaluation is judged under. */
export interface EvaluationSettings {
  readonly policy: Policy;
  /** Whether perimeter configurations were read (NSP-05, NSP-06 run only then). */
  readonly deepInspection: boolean;
  /** The context tables, indexed (normalize.ts `prepareTenant`). */
  readonly prepared: PreparedTenant;
  /** Perimeter configurations read for deep inspection, by lower-case account ID. */
  readonly configurations: ReadonlyMap<string, Observed<readonly unknown[]>>;
  /** When exemptions are judged (their expiry). */
  readonly evaluatedAt: Date;
  /** What the account states record as their writer (the scan or event, and when its reads started). */
  readonly source: AccountState['source'];
  /** Problems in words; rule failures are appended. */
  readonly problems: string[];
}

/** One account's result. */
export interface AccountEvaluation {
  readonly account: AccountSnapshot;
  readonly findings: Finding[];
  readonly state: AccountState;
  /** Whether perimeter configurations were attached, and whether they were read. */
  readonly deep: 'none' | 'read' | 'failed';
}

/** The rules that run: the policy's enabled rules, less the deep ones when deep inspection is off, with its severities. */
export function rulesOf(policy: Policy, deepInspection: boolean): Rule[] {
  return activeRules(RULES, policy.enabledRules, deepInspection, policy.severities);
}

/**
 * Whether an account's perimeter configurations can change a verdict: a perimeter-capable kind with
 * an association row (others cannot be associated, so reading theirs would change nothing).
 */
export function isDeepCandidate(account: AccountSnapshot, params: RuleParameters): boolean {
  const capable = perimeterCapable(account, params);
  return capable.ok && capable.value && account.associations.ok && account.associations.value.length > 0;
}

/** Evaluates accounts one at a time (memory stays one account's findings). */
export function* evaluateAccounts(accounts: Iterable<AccountSnapshot>, s: EvaluationSettings): Generator<AccountEvaluation> {
  const params = s.policy.parameters;
  const rules = rulesOf(s.policy, s.deepInspection);
  const ctx = { params, tenant: s.prepared.tenant };
  const onError = (ruleId: string, resourceId: string, error: unknown) => {
    s.problems.push(`rule ${ruleId} failed on ${resourceId}: ${error instanceof Error ? error.message : String(error)}`);
  };
  for (let account of accounts) {
    let deep: AccountEvaluation['deep'] = 'none';
    const configurations = s.deepInspection && isDeepCandidate(account, params) ? s.configurations.get(idKey(account.id)) : undefined;
    if (configurations !== undefined) {
      deep = configurations.ok ? 'read' : 'failed';
      account = withPerimeterConfigurations(account, configurations);
    }
    const accessLogs = s.deepInspection ? s.prepared.accessLogs?.get(idKey(account.id)) : undefined;
    if (accessLogs !== undefined) account = { ...account, accessLogs };
    const findings = evaluateAccount(account, rules, ctx, onError).map((f) => applyExemptions(f, s.policy, s.evaluatedAt));
    yield { account, findings, state: stateOf(account, findings, s.source, cosmosAssignmentsOf(account, ctx).assignments), deep };
  }
}
