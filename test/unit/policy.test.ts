import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { computeTransitions } from '../../src/engine/diff.js';
import { describePolicy, parsePolicyText, PolicyError } from '../../src/config/policy.js';
import type { Finding } from '../../src/domain/rule.js';
import { activeRules, evaluateAccount } from '../../src/engine/evaluate.js';
import { applyExemptions } from '../../src/engine/exemptions.js';
import { hasFailAtOrAbove, SummaryBuilder } from '../../src/engine/summary.js';
import { RULES } from '../../src/rules/index.js';
import { memoryFindings } from '../../src/store/artifact.js';
import { aContext, anAccount, SUB } from '../helpers/builders.js';

const ACCOUNT = `/subscriptions/${SUB}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-test`;

function finding(o: Partial<Finding> = {}): Finding {
  return {
    ruleId: 'AUTH-01',
    resourceId: ACCOUNT,
    outcome: 'fail',
    severity: 'medium',
    message: 'keys enabled',
    subscriptionId: SUB,
    resourceGroup: 'rg-ai',
    accountName: 'oai-test',
    kind: 'OpenAI',
    location: 'eastus',
    tags: { env: 'sandbox', Owner: 'team-a' },
    evidence: {},
    ...o,
  };
}

const exemption = (target: string, extra = '') => `
exemptions:
  - name: ex1
    rules: [AUTH-01]
    target: ${target}
    category: Waiver
    justification: Sandbox accounts keep keys until the migration ends.${extra}
`;

describe('policy file', () => {
  it('reads every field, YAML and JSON alike', () => {
    const yaml = `
version: 1
scope:
  include:
    managementGroups: [contoso-ai]
    subscriptions: [${SUB}]
    resourceGroups: [/subscriptions/${SUB}/resourceGroups/rg-ai]
  exclude:
    managementGroups: [contoso-sandbox]
    subscriptions: [/subscriptions/22222222-2222-4222-8222-222222222222]
    resourceGroups: [/subscriptions/${SUB}/resourceGroups/rg-lab]
rules:
  NET-07: { enabled: true }
  perimeter-access-logging: { enabled: false }
  AUTH-01: { severity: high }
parameters:
  perimeterKinds: [OpenAI, AIServices, Face]
  maxRuleAddresses: 256
  expectedBypass: None
  dataAccessRoleIds: [BA92F5B4-2D11-453D-A403-E96B0029C9FE]
  privilegedRoleIds: [8e3af657-a8ff-443c-a75c-2fe8c4bcb635]
  deepInspection: false
allowTagExemptions: true
exemptions:
  - name: sandbox-keys
    rules: all
    target: { tags: { env: sandbox } }
    category: Mitigated
    justification: Sandbox accounts hold no customer data.
    expiresOn: 2026-12-31
`;
    const p = parsePolicyText(yaml, 'p.yaml');
    assert.deepEqual(p.scope.include, { managementGroups: ['contoso-ai'], subscriptions: [SUB], resourceGroups: [`/subscriptions/${SUB}/resourceGroups/rg-ai`] });
    assert.deepEqual(p.scope.exclude.subscriptions, ['22222222-2222-4222-8222-222222222222']);
    assert.ok(p.enabledRules.has('NET-07') && !p.enabledRules.has('NSP-06'));
    assert.equal(p.severities.get('AUTH-01'), 'high');
    assert.equal(p.parameters.maxRuleAddresses, 256);
    assert.equal(p.parameters.expectedBypass, 'None');
    assert.deepEqual(p.parameters.dataAccessRoleIds, ['ba92f5b4-2d11-453d-a403-e96b0029c9fe']);
    assert.equal(p.deepInspection, false);
    assert.equal('deepInspection' in p.parameters, false, 'a scan option, not a rule parameter');
    assert.equal(p.allowTagExemptions, true);
    assert.deepEqual(p.exemptions[0], {
      name: 'sandbox-keys',
      rules: 'all',
      target: { tags: { env: 'sandbox' } },
      category: 'Mitigated',
      justification: 'Sandbox accounts hold no customer data.',
      expiresOn: '2026-12-31',
    });
    const json = parsePolicyText(JSON.stringify({ rules: { 'NET-07': { enabled: true } } }), 'p.json');
    assert.ok(json.enabledRules.has('NET-07'));
    const shown = describePolicy(parsePolicyText('{}', 'empty')) as { rules: Record<string, { enabled: boolean; severity: string }> };
    assert.deepEqual(shown.rules['NET-07'], { enabled: false, severity: 'medium' }, 'policy show writes every default out');
  });

  it('names the source, the field and its line in every error', () => {
    const cases: Array<[string, RegExp]> = [
      ['version: 2\n', /p\.yaml: version \(line 1\)/],
      ['rules:\n  NET-07:\n    enabled: maybe\n', /rules\.NET-07\.enabled \(line 3\)/],
      ['rules:\n  NOPE-9: { enabled: true }\n', /rules\.NOPE-9 \(line 2\): no such rule/],
      ['parameters:\n  maxRuleAddresses: -5\n', /parameters\.maxRuleAddresses \(line 2\)/],
      ['parameters:\n  privilegedRoleIds: [not-a-guid]\n', /parameters\.privilegedRoleIds\.0 \(line 2\): a GUID/],
      ['parameters:\n  typo: 1\n', /parameters \(line 2\).*typo/],
      ['scope:\n  include:\n    resourceGroups: [rg-ai]\n', /scope\.include\.resourceGroups\.0 \(line 3\): a resource group ID/],
      [exemption(`{ subscription: ${SUB} }`, '\n    expiresOn: 31/12/2026'), /exemptions\.0\.expiresOn \(line 8\): an ISO 8601 date/],
      [exemption(`{ subscription: ${SUB}, resourceGroup: /subscriptions/${SUB}/resourceGroups/rg }`), /exemptions\.0\.target \(line 5\): exactly one of/],
      [exemption(`{ subscription: ${SUB} }`).replace('category: Waiver', 'category: Forever'), /exemptions\.0\.category \(line 6\)/],
      [exemption(`{ subscription: ${SUB} }`).replace('rules: [AUTH-01]', 'rules: [AUTH-99]'), /exemptions\.0\.rules\.0 \(line 4\): no such rule AUTH-99/],
      ['rules: [\n  unclosed\n', /p\.yaml line \d: not valid YAML or JSON/],
    ];
    for (const [text, expected] of cases) {
      assert.throws(() => parsePolicyText(text, 'p.yaml'), (e: Error) => e instanceof PolicyError && expected.test(e.message), `${JSON.stringify(text)}`);
    }
  });

  it('refuses a date that does not exist (2026-02-30 is not March 2), naming the field and line', () => {
    for (const bad of ['2026-02-30', '2026-02-29', '2026-13-01', '2026-04-31', '2026-00-10', '2026-02-30T12:00:00Z']) {
      assert.throws(
        () => parsePolicyText(exemption(`{ subscription: ${SUB} }`, `\n    expiresOn: '${bad}'`), 'p.yaml'),
        (e: Error) => e instanceof PolicyError && /p\.yaml: exemptions\.0\.expiresOn \(line 8\): an ISO 8601 date that exists/.test(e.message),
        bad,
      );
    }
    for (const good of ['2028-02-29', '2026-12-31', '2026-01-31T23:59:59Z']) {
      assert.equal(parsePolicyText(exemption(`{ subscription: ${SUB} }`, `\n    expiresOn: '${good}'`), 'p.yaml').exemptions[0]?.expiresOn, good);
    }
  });

  it('refuses a YAML alias bomb naming the file and the line of the first alias', () => {
    const bomb = [
      'parameters:',
      '  perimeterKinds: &a [x, x, x, x, x, x, x, x, x]',
      'x1: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'x2: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'x3: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'x4: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
      '',
    ].join('\n');
    assert.throws(
      () => parsePolicyText(bomb, 'bomb.yaml'),
      (e: Error) => e instanceof PolicyError && /^bomb\.yaml line 3: YAML aliases \(\*name\) expand to too many nodes/.test(e.message),
    );
  });

  it('refuses tag-based exemptions unless the policy allows them', () => {
    assert.throws(() => parsePolicyText(exemption('{ tags: { env: sandbox } }'), 'p.yaml'), /exemptions\.0\.target\.tags \(line 5\): tag-based exemptions are refused unless allowTagExemptions is true/);
    assert.doesNotThrow(() => parsePolicyText(`allowTagExemptions: true\n${exemption('{ tags: { env: sandbox } }')}`, 'p.yaml'));
  });
});

describe('exemptions', () => {
  const now = new Date('2026-11-21T12:00:00Z');
  const targets: Array<[string, string]> = [
    ['resource', `{ resourceId: ${ACCOUNT.toUpperCase()} }`],
    ['resource group', `{ resourceGroup: /subscriptions/${SUB}/resourceGroups/RG-AI }`],
    ['subscription', `{ subscription: /subscriptions/${SUB} }`],
    ['tags (allowed)', '{ tags: { owner: team-a } }'],
  ];
  for (const [level, target] of targets) {
    it(`apply at ${level} level, keeping the real outcome`, () => {
      const policy = parsePolicyText(`allowTagExemptions: true\n${exemption(target)}`, 'p.yaml');
      const f = applyExemptions(finding(), policy, now);
      assert.equal(f.outcome, 'fail');
      assert.deepEqual(f.exemption, { name: 'ex1', category: 'Waiver', justification: 'Sandbox accounts keep keys until the migration ends.' });
      assert.equal(applyExemptions(finding({ ruleId: 'ID-01' }), policy, now).exemption, undefined, 'other rules are not covered');
      assert.equal(applyExemptions(finding({ resourceId: ACCOUNT.replace('oai-test', 'other'), subscriptionId: '99999999-9999-4999-8999-999999999999', resourceGroup: 'x', tags: {} }), policy, now).exemption, undefined);
    });
  }

  it('stop applying after expiresOn (the end of that day, UTC) and are reported as expired', () => {
    const policy = parsePolicyText(exemption(`{ subscription: ${SUB} }`, '\n    expiresOn: 2026-11-21'), 'p.yaml');
    assert.ok(applyExemptions(finding(), policy, new Date('2026-11-21T23:59:00Z')).exemption);
    const after = applyExemptions(finding(), policy, new Date('2026-11-22T00:00:01Z'));
    assert.equal(after.exemption, undefined);
    assert.deepEqual(after.expiredExemption, { name: 'ex1', expiresOn: '2026-11-21' });
  });

  it('are counted separately, do not fail --fail-on, and are not alerted', async () => {
    const policy = parsePolicyText(exemption(`{ subscription: ${SUB} }`), 'p.yaml');
    const exempted = applyExemptions(finding({ severity: 'high' }), policy, now);
    const summary = new SummaryBuilder(['AUTH-01']);
    summary.add(exempted);
    const s = summary.build();
    assert.equal(s.byOutcome.fail, 1, 'the real outcome is kept');
    assert.equal(s.exempted.byOutcome.fail, 1);
    assert.equal(s.exempted.failsBySeverity.high, 1);
    assert.equal(hasFailAtOrAbove(s, 'low'), false);
    assert.deepEqual(await computeTransitions(new Map(), memoryFindings([exempted])), []);
    assert.equal((await computeTransitions(new Map(), memoryFindings([finding()]))).length, 1);
  });

  it('severity overrides change the findings the rules produce', () => {
    const policy = parsePolicyText('rules:\n  AUTH-01: { severity: high }\n', 'p.yaml');
    const rules = activeRules(RULES, policy.enabledRules, true, policy.severities);
    const [f] = evaluateAccount(anAccount(), rules.filter((r) => r.id === 'AUTH-01'), aContext());
    assert.equal(f?.severity, 'high');
    assert.equal(RULES.find((r) => r.id === 'AUTH-01')?.severity, 'medium', 'the catalog itself is unchanged');
  });
});
