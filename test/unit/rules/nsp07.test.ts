import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { AccessLogFlow, AccessLogReading, AccountSnapshot } from '../../../src/domain/snapshot.js';
import { evaluateAccount } from '../../../src/engine/evaluate.js';
import nsp03 from '../../../src/rules/nsp-03-perimeter-inbound-least-privilege.js';
import nsp04 from '../../../src/rules/nsp-04-perimeter-outbound-least-privilege.js';
import nsp07 from '../../../src/rules/nsp-07-perimeter-enforcement-ready.js';
import { mergeExact, planAccessRules, PROPOSED_RULE_NAMES } from '../../../src/rules/readinessPlan.js';
import { aContext, accessRule, anAccount, association, PROFILE, SUB, unreadable } from '../../helpers/builders.js';
import { ruleTable } from '../../helpers/ruleTable.js';

const learning = association({ accessMode: 'Learning' });
const enforced = association({ accessMode: 'Enforced' });
const audit = association({ accessMode: 'Audit' });
const CALLER = '99999999-8888-4777-8666-555555555555';

function flow(o: Partial<AccessLogFlow>): AccessLogFlow {
  return {
    direction: 'Inbound',
    category: 'NspPublicInboundResourceRulesAllowed',
    sourceIpAddress: '',
    sourceResourceId: '',
    destinationFqdn: '',
    count: 1,
    lastSeen: '2026-12-01T10:00:00.000Z',
    ...o,
  };
}

function read(flows: AccessLogFlow[], records = flows.reduce((n, f) => n + f.count, 0), o: Partial<AccessLogReading> = {}): AccessLogReading {
  return { status: 'read', windowDays: 14, workspaces: ['/subscriptions/x/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law'], records, flows, ...o } as AccessLogReading;
}

function withLogs(account: AccountSnapshot, accessLogs: AccessLogReading | undefined): AccountSnapshot {
  return accessLogs === undefined ? account : { ...account, accessLogs };
}

const blocked = [
  flow({ sourceIpAddress: '203.0.113.10', count: 40 }),
  flow({ sourceResourceId: `/subscriptions/${CALLER}/resourceGroups/rg-app/providers/Microsoft.Web/sites/app`, count: 12 }),
  flow({ direction: 'Outbound', category: 'NspPublicOutboundResourceRulesAllowed', destinationFqdn: 'api.partner.example', count: 5 }),
];

ruleTable(nsp07, [
  {
    name: 'records, none would be denied',
    account: withLogs(anAccount({ associations: [learning] }), read([], 120)),
    outcome: 'pass',
    code: 'no-would-be-denied-traffic',
    message: /120 access log record\(s\) in 14 day\(s\), none/,
  },
  {
    name: 'would-be-denied inbound and outbound flows',
    account: withLogs(anAccount({ associations: [learning] }), read(blocked)),
    outcome: 'fail',
    code: 'would-be-denied-traffic',
    message: /3 flow\(s\) \(57 record\(s\) in 14 day\(s\)\) would be blocked once perimeter 'nsp-main' is Enforced: Inbound from 203\.0\.113\.10: 40 record\(s\).*3 access rule\(s\) proposed/,
  },
  {
    name: 'a flow seen in a partial result is still certain',
    account: withLogs(anAccount({ associations: [learning] }), read([blocked[0] as AccessLogFlow], 40, { status: 'incomplete', reason: 'partial result (PartialError: timeout)' })),
    outcome: 'fail',
    code: 'would-be-denied-traffic',
    message: /Logs partly read: partial result/,
  },
  {
    name: 'already Enforced',
    account: withLogs(anAccount({ associations: [enforced] }), read(blocked)),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /already Enforced/,
  },
  {
    name: 'Audit mode',
    account: anAccount({ associations: [audit] }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /readiness is measured in Learning mode/,
  },
  {
    name: 'not associated',
    account: anAccount(),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no Succeeded/,
  },
  {
    name: 'association rows unread',
    account: anAccount({ associations: unreadable('associations timed out') }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /associations timed out/,
  },
  {
    name: 'logs not inspected (deep inspection off)',
    account: anAccount({ associations: [learning] }),
    outcome: 'unknown',
    code: 'access-logs-not-inspected',
    message: /not read for this account/,
  },
  {
    name: 'no diagnostic setting sends the categories to Log Analytics',
    account: withLogs(anAccount({ associations: [learning] }), { status: 'no-destination', windowDays: 14, reason: 'no diagnostic setting of perimeter X sends …' }),
    outcome: 'unknown',
    code: 'access-logs-not-collected',
    message: /\(NSP-06\)/,
  },
  {
    name: 'workspace unreadable, no flow seen',
    account: withLogs(anAccount({ associations: [learning] }), read([], 0, { status: 'incomplete', reason: 'HTTP 403 InsufficientAccessError' })),
    outcome: 'unknown',
    code: 'access-logs-unread',
    message: /403/,
  },
  {
    name: 'no record at all in the window',
    account: withLogs(anAccount({ associations: [learning] }), read([], 0)),
    outcome: 'unknown',
    code: 'no-access-log-records',
    message: /no traffic, or logs not flowing/,
  },
]);

describe('NSP-07 proposed access rules', () => {
  const params = aContext().params;

  it('merges exact addresses only into prefixes that cover exactly them', () => {
    const ips = ['198.51.100.0', '198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.9'].map((ip) => BigInt(ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)));
    const merged = mergeExact(ips, 32, 24);
    assert.deepEqual(merged.map((p) => p.length), [30, 32]);
    // Never shorter than the floor, even when every address of a wider block was seen.
    const all = Array.from({ length: 512 }, (_, i) => BigInt(0xc6336400 + i));
    assert.deepEqual(mergeExact(all, 32, 24).map((p) => p.length), [24, 24]);
  });

  it('proposes one rule per kind, with the real perimeter, profile and resource group, and each passes NSP-03 and NSP-04', () => {
    const plan = planAccessRules(blocked, learning, [], params);
    assert.deepEqual(plan.rules.map((r) => r.name), [PROPOSED_RULE_NAMES.addresses, PROPOSED_RULE_NAMES.subscriptions, PROPOSED_RULE_NAMES.fqdns]);
    assert.deepEqual(plan.rules[0]?.addressPrefixes, ['203.0.113.10/32']);
    assert.deepEqual(plan.rules[1]?.subscriptions, [`/subscriptions/${CALLER}`]);
    assert.deepEqual(plan.rules[2]?.fullyQualifiedDomainNames, ['api.partner.example']);
    for (const r of plan.rules) {
      assert.match(r.az, /^az network perimeter profile access-rule create --subscription 11111111-2222-4333-8444-555555555555 --resource-group rg-net --perimeter-name nsp-main --profile-name default /);
      assert.match(r.bicep, /name: 'nsp-main'[\s\S]*name: 'default'[\s\S]*parent: profile/);
    }
    // The proposed rules, added to the profile, pass the least-privilege rules.
    const rules = plan.rules.map((r) => accessRule({
      id: `${PROFILE}/accessRules/${r.name}`, name: r.name, direction: r.direction,
      addressPrefixes: [...r.addressPrefixes], subscriptionIds: [...r.subscriptions], fullyQualifiedDomainNames: [...r.fullyQualifiedDomainNames],
    }));
    const account = anAccount({ associations: [learning], accessRules: rules });
    const findings = evaluateAccount(account, [nsp03, nsp04], aContext());
    assert.deepEqual(findings.map((f) => f.outcome), ['pass', 'pass']);
  });

  it('never puts hostile or unusable log text into a rule or a command', () => {
    const hostile = [
      flow({ direction: 'Outbound', category: 'NspPublicOutboundResourceRulesAllowed', destinationFqdn: '<script>alert(1)</script>' }),
      flow({ direction: 'Outbound', category: 'NspPublicOutboundResourceRulesAllowed', destinationFqdn: '=cmd|\' /C calc\'!A0' }),
      flow({ direction: 'Outbound', category: 'NspPublicOutboundResourceRulesAllowed', destinationFqdn: '*.wildcard.example' }),
      flow({ sourceIpAddress: '10.0.0.4' }),
      flow({ sourceIpAddress: '1.2.3.4; rm -rf /' }),
    ];
    const plan = planAccessRules(hostile, learning, [], params);
    assert.equal(plan.rules.length, 0);
    assert.equal(plan.unplanned.length, 5);
    assert.match(plan.unplanned[3]?.reason ?? '', /private/);
  });

  it('keeps the entries of an existing rule of the same name (the command replaces the rule)', () => {
    const existing = accessRule({ id: `${PROFILE}/accessRules/${PROPOSED_RULE_NAMES.addresses}`, name: PROPOSED_RULE_NAMES.addresses, addressPrefixes: ['192.0.2.0/28'] });
    const plan = planAccessRules([blocked[0] as AccessLogFlow], learning, [existing], params);
    assert.deepEqual(plan.rules[0]?.addressPrefixes, ['192.0.2.0/28', '203.0.113.10/32']);
    assert.equal(plan.rules[0]?.kept, 1);
  });

  it('honours readinessMinPrefixLength and maxRuleAddresses together', () => {
    const ips = Array.from({ length: 256 }, (_, i) => flow({ sourceIpAddress: `198.51.100.${i}` }));
    assert.deepEqual(planAccessRules(ips, learning, [], { ...params, readinessMinPrefixLength: 24 }).rules[0]?.addressPrefixes, ['198.51.100.0/24']);
    assert.equal(planAccessRules(ips, learning, [], { ...params, readinessMinPrefixLength: 28 }).rules[0]?.addressPrefixes.length, 16);
    assert.equal(planAccessRules(ips, learning, [], { ...params, readinessMinPrefixLength: 16, maxRuleAddresses: 64 }).rules[0]?.addressPrefixes.length, 4);
    assert.equal(SUB.length, 36);
  });
});

describe('NSP-07 and ID-04 agree on data sources (issue 21)', () => {
  it('proposes the outbound FQDN of every data source ID-04 finds unreachable, beside the logged destinations', async () => {
    const id04 = (await import('../../../src/rules/id-04-data-sources-in-perimeter.js')).default;
    const { aSearchService, aCosmosAccount, cosmosAssignment, searchId, ROLES, roleAssignment } = await import('../../helpers/builders.js');
    const account = withLogs(
      anAccount({ associations: [learning], roleAssignments: [roleAssignment(ROLES.searchReader, searchId('srch1'))] }),
      read(blocked),
    );
    const ctx = aContext({
      search: [aSearchService('srch1')],
      cosmos: [aCosmosAccount('cdb1')],
      cosmosAssignments: { assignments: [cosmosAssignment('cdb1')], unreadable: {} },
    });
    const [dataFinding] = evaluateAccount(account, [id04], ctx);
    const [readiness] = evaluateAccount(account, [nsp07], ctx);
    assert.equal(dataFinding?.outcome, 'fail');
    const unreachable = (dataFinding?.evidence.dataSources as Array<{ status: string; fqdn?: string }>).filter((d) => d.status === 'not_ok').map((d) => d.fqdn);
    assert.deepEqual(unreachable.sort(), ['cdb1.documents.azure.com', 'srch1.search.windows.net']);
    const rules = readiness?.evidence.proposedRules as Array<{ name: string; fullyQualifiedDomainNames: string[]; az: string }>;
    const outbound = rules.find((r) => r.name === PROPOSED_RULE_NAMES.fqdns);
    assert.deepEqual(outbound?.fullyQualifiedDomainNames.slice().sort(), ['api.partner.example', 'cdb1.documents.azure.com', 'srch1.search.windows.net']);
    assert.match(outbound?.az ?? '', /srch1\.search\.windows\.net/);
    // The proposed rule passes NSP-04 (exact FQDNs).
    assert.ok(outbound?.fullyQualifiedDomainNames.every((f) => !f.includes('*')));
  });

  it('proposes an outbound rule for an unreachable data source even when the logs show only inbound flows', () => {
    const plan = planAccessRules([blocked[0] as AccessLogFlow], learning, [], aContext().params, ['srch1.search.windows.net']);
    assert.deepEqual(plan.rules.find((r) => r.name === PROPOSED_RULE_NAMES.fqdns)?.fullyQualifiedDomainNames, ['srch1.search.windows.net']);
  });
});
