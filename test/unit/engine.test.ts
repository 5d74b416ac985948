import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { developmentCredential, isLoopbackHttps } from '../../src/collect/clients.js';
import { defaultPolicy, PolicyError, policyFrom } from '../../src/config/policy.js';
import { fact } from '../../src/domain/observed.js';
import { defineRule } from '../../src/domain/rule.js';
import { activeRules, ENGINE_CODES, evaluateAccount } from '../../src/engine/evaluate.js';
import { hasFailAtOrAbove, SummaryBuilder } from '../../src/engine/summary.js';
import { RULES } from '../../src/rules/index.js';
import { isScanId, newScanId } from '../../src/store/scanDocument.js';
import { aContext, anAccount } from '../helpers/builders.js';

const base = RULES[0];
assert.ok(base);

describe('engine', () => {
  it('turns a throwing rule into an unknown finding and reports the error', () => {
    const boom = defineRule({
      ...base,
      id: 'X-01',
      appliesTo: () => fact(true, 'yes'),
      evaluate: () => {
        throw new Error('kaput');
      },
    });
    const errors: string[] = [];
    const [f] = evaluateAccount(anAccount(), [boom], aContext(), (ruleId, _id, e) =>
      errors.push(`${ruleId}:${(e as Error).message}`),
    );
    assert.equal(f?.outcome, 'unknown');
    assert.equal(f?.code, ENGINE_CODES.ruleError);
    assert.match(f?.message ?? '', /kaput/);
    assert.deepEqual(errors, ['X-01:kaput']);
  });

  it('gives every rule exactly one finding per account, with the account fields', () => {
    const account = anAccount({ name: 'acc1' });
    const findings = evaluateAccount(account, RULES, aContext());
    assert.deepEqual(
      findings.map((f) => f.ruleId),
      RULES.map((r) => r.id),
    );
    for (const f of findings) {
      assert.equal(f.resourceId, account.id);
      assert.equal(f.accountName, 'acc1');
      assert.equal(f.kind, 'OpenAI');
    }
  });

  it('runs enabled rules only, and deep rules only with deep inspection', () => {
    const policy = defaultPolicy();
    const deep = activeRules(RULES, policy.enabledRules, true).map((r) => r.id);
    const shallow = activeRules(RULES, policy.enabledRules, false).map((r) => r.id);
    assert.equal(deep.length, 20);
    assert.ok(!deep.includes('NET-07'));
    assert.deepEqual(
      shallow,
      deep.filter((id) => id !== 'NSP-05' && id !== 'NSP-06' && id !== 'NSP-07'),
    );
  });

  it('summarises and applies --fail-on thresholds', () => {
    const s = new SummaryBuilder(['A']);
    s.add({
      ruleId: 'A',
      resourceId: 'r',
      outcome: 'fail',
      severity: 'medium',
      message: '',
      subscriptionId: '',
      resourceGroup: '',
      accountName: '',
      kind: null,
      location: '',
      tags: {},
      evidence: {},
    });
    const summary = s.build();
    assert.equal(summary.byOutcome.fail, 1);
    assert.equal(summary.bySeverity.medium.fail, 1);
    assert.equal(hasFailAtOrAbove(summary, 'high'), false);
    assert.equal(hasFailAtOrAbove(summary, 'medium'), true);
    assert.equal(hasFailAtOrAbove(summary, 'low'), true);
  });
});

describe('policy file', () => {
  it('turns rules on and off and overrides parameters', () => {
    const p = policyFrom(
      {
        rules: { 'NET-07': { enabled: true }, 'perimeter-access-logging': { enabled: false } },
        parameters: { maxRuleAddresses: 256 },
      },
      'p.json',
    );
    assert.ok(p.enabledRules.has('NET-07'));
    assert.ok(!p.enabledRules.has('NSP-06'));
    assert.equal(p.parameters.maxRuleAddresses, 256);
    assert.equal(p.parameters.expectedBypass, 'AzureServices');
  });
  it('names the file and the field in errors', () => {
    assert.throws(
      () => policyFrom({ parameters: { maxRuleAddresses: -1 } }, 'p.json'),
      (e: Error) => e instanceof PolicyError && /p\.json: parameters\.maxRuleAddresses/.test(e.message),
    );
    assert.throws(() => policyFrom({ parameters: { typo: 1 } }, 'p.json'), /p\.json: parameters/);
    assert.throws(
      () => policyFrom({ rules: { 'NOPE-1': { enabled: true } } }, 'p.json'),
      /rules\.NOPE-1: no such rule/,
    );
  });
});

describe('credentials and scan IDs', () => {
  it('uses the development token only for https loopback endpoints', async () => {
    for (const ok of ['https://127.0.0.1:8443', 'https://localhost:1', 'https://[::1]:5', 'https://127.1.2.3'])
      assert.ok(isLoopbackHttps(ok), ok);
    for (const bad of [
      'http://127.0.0.1:8443',
      'https://management.azure.com',
      'https://127.0.0.1.evil.com',
      'https://10.0.0.1',
      'not a url',
    ]) {
      assert.equal(isLoopbackHttps(bad), false, bad);
      assert.throws(() => developmentCredential(bad), /only used for https loopback/);
    }
    const token = await developmentCredential('https://127.0.0.1:1').getToken('x');
    assert.ok(token?.token);
  });
  it('makes sortable scan IDs of the documented form', () => {
    const id = newScanId(new Date('2026-11-21T03:00:00Z'), () => Buffer.from([0, 1, 2, 3, 4, 35]));
    assert.equal(id, '2026-11-21T03-00-00Z-abcde9');
    assert.ok(isScanId(id));
    assert.equal(isScanId('../../etc/passwd'), false);
    assert.ok(newScanId(new Date('2026-01-01T00:00:00Z')) < newScanId(new Date('2026-01-01T00:00:01Z')));
  });
});
