import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { Finding, Outcome } from '../../src/domain/rule.js';
import { computeTransitions, loadBaseline, previousOutcomes, readBy, TransitionDiff, type TransitionKind } from '../../src/engine/diff.js';
import { memoryFindings } from '../../src/store/artifact.js';

/** The one diff's rule (README "What changed since the previous scan"), one row per case. */

const READ = '11111111-1111-4111-8111-111111111111';
const UNREAD = '22222222-2222-4222-8222-222222222222';

function f(account: string, ruleId: string, outcome: Outcome, o: Partial<Finding> = {}): Finding {
  const subscriptionId = o.subscriptionId ?? READ;
  return {
    ruleId,
    resourceId: `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/${account}`,
    outcome,
    severity: 'high',
    message: `${ruleId} ${outcome}`,
    subscriptionId,
    resourceGroup: 'rg',
    accountName: account,
    kind: 'OpenAI',
    location: 'eastus',
    tags: {},
    evidence: {},
    ...o,
  };
}

const covered = readBy({
  coverage: {
    subscriptions: [
      { id: READ, status: 'read' },
      { id: UNREAD, status: 'unreadable', reason: 'HTTP 403' },
    ],
    accounts: 0,
    tables: [],
    deepInspection: { accounts: 0, failed: 0 },
    problems: [],
  },
});

const EXEMPTION = { name: 'x', category: 'Waiver', justification: 'j' } as const;

const CASES: ReadonlyArray<{ name: string; before: Finding[]; now: Finding[]; expected: Array<`${TransitionKind} ${string}`> }> = [
  { name: 'absent → fail is opened', before: [], now: [f('a', 'R1', 'fail')], expected: ['opened a R1'] },
  { name: 'unknown → fail is opened', before: [f('a', 'R1', 'unknown')], now: [f('a', 'R1', 'fail')], expected: ['opened a R1'] },
  { name: 'not_applicable → fail is opened', before: [f('a', 'R1', 'not_applicable')], now: [f('a', 'R1', 'fail')], expected: ['opened a R1'] },
  { name: 'pass → fail is regressed', before: [f('a', 'R1', 'pass')], now: [f('a', 'R1', 'fail')], expected: ['regressed a R1'] },
  { name: 'fail → fail is nothing', before: [f('a', 'R1', 'fail')], now: [f('a', 'R1', 'fail')], expected: [] },
  { name: 'fail → pass is resolved', before: [f('a', 'R1', 'fail')], now: [f('a', 'R1', 'pass')], expected: ['resolved a R1'] },
  { name: 'fail → unknown stays open', before: [f('a', 'R1', 'fail')], now: [f('a', 'R1', 'unknown')], expected: [] },
  { name: 'fail → not_applicable stays open', before: [f('a', 'R1', 'fail')], now: [f('a', 'R1', 'not_applicable')], expected: [] },
  { name: 'an exempted fail is not opened', before: [], now: [f('a', 'R1', 'fail', { exemption: EXEMPTION })], expected: [] },
  { name: 'an exempted pass resolves nothing', before: [f('a', 'R1', 'fail')], now: [f('a', 'R1', 'pass', { exemption: EXEMPTION })], expected: [] },
  { name: 'an account gone from a read subscription is resolved', before: [f('a', 'R1', 'fail'), f('a', 'R2', 'pass')], now: [], expected: ['resolved a R1'] },
  { name: 'an account of an unreadable subscription is not gone', before: [f('u', 'R1', 'fail', { subscriptionId: UNREAD })], now: [], expected: [] },
  { name: 'an exempted account is still there', before: [f('a', 'R1', 'fail')], now: [f('a', 'R2', 'fail', { exemption: EXEMPTION })], expected: [] },
  { name: 'a rule that no longer runs on an account still there resolves nothing', before: [f('a', 'R1', 'fail')], now: [f('a', 'R2', 'pass')], expected: [] },
];

describe('the one diff', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const transitions = await computeTransitions(await previousOutcomes(memoryFindings(c.before)), memoryFindings(c.now), covered);
      assert.deepEqual(transitions.map((t) => `${t.kind} ${t.accountName} ${t.ruleId}`), c.expected);
    });
  }

  it('a report baseline (fails only) counts the same new and resolved as the full diff', async () => {
    const before = CASES.flatMap((c, i) => c.before.map((x) => ({ ...x, resourceId: `${x.resourceId}-${i}` })));
    const now = CASES.flatMap((c, i) => c.now.map((x) => ({ ...x, resourceId: `${x.resourceId}-${i}` })));
    const full = await computeTransitions(await previousOutcomes(memoryFindings(before)), memoryFindings(now), covered);
    const baseline = await loadBaseline('s1', '2026-11-21T03:00:00Z', memoryFindings(before));
    const diff = new TransitionDiff(baseline.outcomes, covered);
    const kinds = [...now.map((x) => diff.observe(x)?.kind), ...[...diff.gone()].map((c) => c.kind)].filter((k) => k !== undefined);
    const count = (list: readonly TransitionKind[], ...of: TransitionKind[]) => list.filter((k) => of.includes(k)).length;
    const fullKinds = full.map((t) => t.kind);
    assert.equal(count(kinds, 'opened', 'regressed'), count(fullKinds, 'opened', 'regressed'));
    assert.equal(count(kinds, 'resolved'), count(fullKinds, 'resolved'));
    assert.equal(count(kinds, 'regressed'), 0, 'without the passes a regression is counted as opened');
  });
});
