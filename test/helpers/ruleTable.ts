import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { OUTCOMES, type Outcome, type Rule, type RuleContext } from '../../src/domain/rule.js';
import type { AccountSnapshot } from '../../src/domain/snapshot.js';
import { evaluateAccount } from '../../src/engine/evaluate.js';
import { aContext } from './builders.js';

/**
 * One row of a rule's table: an account, the outcome it must get, the verdict's code (the stable
 * reason, as typescript-eslint's `messageId`), and what the message must say.
 */
export interface RuleCase {
  readonly name: string;
  readonly account: AccountSnapshot;
  readonly ctx?: RuleContext;
  readonly outcome: Outcome;
  readonly code: string;
  readonly message: RegExp;
}

/**
 * Runs a rule's table through the engine (applicability included) and checks that the table has
 * a case for every outcome, except those `impossible` says cannot happen (with the reason).
 */
export function ruleTable(rule: Rule, cases: RuleCase[], impossible: Partial<Record<Outcome, string>> = {}): void {
  describe(`${rule.id} ${rule.slug}`, () => {
    for (const c of cases) {
      it(`${c.outcome}: ${c.name}`, () => {
        const [finding] = evaluateAccount(c.account, [rule], c.ctx ?? aContext());
        assert.ok(finding);
        assert.equal(finding.outcome, c.outcome, `message was: ${finding.message}`);
        assert.equal(finding.code, c.code, `message was: ${finding.message}`);
        assert.match(finding.code, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'codes are kebab-case');
        assert.match(finding.message, c.message);
        assert.equal(finding.ruleId, rule.id);
        assert.equal(finding.severity, rule.severity);
      });
    }
    it('has a case for every possible outcome', () => {
      for (const outcome of OUTCOMES) {
        if (impossible[outcome] !== undefined) continue;
        assert.ok(
          cases.some((c) => c.outcome === outcome),
          `no ${outcome} case`,
        );
      }
    });
  });
}
