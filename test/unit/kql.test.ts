import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import fc from 'fast-check';
import type { ResourceGraphClient } from '@azure/arm-resourcegraph';
import { ACCESS_LOG_COLUMNS, accessLogQuery, kqlString, MAX_ACCOUNTS_IN_QUERY, WOULD_BE_DENIED_CATEGORIES } from '../../src/collect/accessLogQuery.js';
import {
  type AccountBatchSink,
  collectAccounts,
  collectContext,
  MAX_SUBSCRIPTIONS_IN_FILTER,
  READ_TOGETHER,
  readTogetherQuery,
  scopeLevelRoleAssignmentQueries,
  subscriptionsUnder,
} from '../../src/collect/collector.js';
import { TABLES } from '../../src/collect/inventory.js';
import { ResourceGraphReader, tableQuery, typeQuery } from '../../src/collect/resourceGraph.js';
import { OTHER_PERIMETER, PERIMETER, SUB } from '../helpers/builders.js';
import { kqlAnalysis, kqlDiagnostics } from '../helpers/kusto.js';

/**
 * Every KQL text the project sends, checked by Microsoft's own parser and analyser (Kusto.Language,
 * test/helpers/kusto.ts) against the columns of the tables it reads: no diagnostic at all, and each
 * checker shown live by a misspelt column and a syntax error it does report.
 */

/** `NSPAccessLogs` (AZURE-FACTS.md "Perimeter access logs"): `TimeGenerated` datetime, every other column string. */
const NSP_ACCESS_LOGS = {
  NSPAccessLogs: `(TimeGenerated:datetime, ${[
    'Category', 'ServiceResourceId', 'ResultDirection', 'ResultAction', 'TrafficType', 'Profile', 'MatchedRule', 'SourceIpAddress',
    'SourceResourceId', 'SourceAppId', 'SourcePerimeterGuids', 'DestinationFqdn', 'DestinationResourceId', 'DestinationPort', 'OperationName', '_ResourceId',
  ].map((c) => `${c}:string`).join(', ')})`,
};

const account = (name: string) => `/subscriptions/${SUB}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/${name}`;
const accounts = (n: number) => Array.from({ length: n }, (_, i) => account(`acct-${i}`));

/** The operators of the query, by whether the account filter is in it. */
const OPERATORS = {
  filtered: ['where', 'where', 'where', 'extend', 'summarize', 'project'],
  unfiltered: ['where', 'where', 'extend', 'summarize', 'project'],
};

describe('the Log Analytics query (NSPAccessLogs), checked by Kusto.Language', () => {
  const cases = [
    { name: 'one perimeter, no account named', perimeterIds: [PERIMETER], accountIds: [], windowDays: 14, filter: false },
    { name: 'several perimeters, one account (filter on)', perimeterIds: [PERIMETER, OTHER_PERIMETER], accountIds: [account('oai-chat')], windowDays: 1, filter: true },
    { name: `${MAX_ACCOUNTS_IN_QUERY} accounts (filter on, at the limit)`, perimeterIds: [PERIMETER], accountIds: accounts(MAX_ACCOUNTS_IN_QUERY), windowDays: 90, filter: true },
    { name: `${MAX_ACCOUNTS_IN_QUERY + 1} accounts (filter off)`, perimeterIds: [PERIMETER, OTHER_PERIMETER], accountIds: accounts(MAX_ACCOUNTS_IN_QUERY + 1), windowDays: 30, filter: false },
  ];
  for (const c of cases) {
    it(`has no diagnostic: ${c.name}`, () => {
      const a = kqlAnalysis(accessLogQuery(c), NSP_ACCESS_LOGS);
      assert.deepEqual(a.diagnostics, []);
      assert.deepEqual(a.operators, c.filter ? OPERATORS.filtered : OPERATORS.unfiltered);
      const expected = [...c.perimeterIds, ...(c.filter ? c.accountIds : [])].map((id) => id.toLowerCase());
      assert.deepEqual(a.strings.filter((s) => s.startsWith('/subscriptions/')), expected, 'every ID named once, as a literal of its own');
    });
  }

  it('answers exactly the contract columns, in order, with their types', () => {
    const a = kqlAnalysis(accessLogQuery({ perimeterIds: [PERIMETER], accountIds: [account('a')], windowDays: 14 }), NSP_ACCESS_LOGS);
    assert.deepEqual(a.columns?.map((c) => c.name), [...ACCESS_LOG_COLUMNS]);
    const types = Object.fromEntries((a.columns ?? []).map((c) => [c.name, c.type]));
    assert.deepEqual(types, {
      ServiceResourceId: 'string', Category: 'string', ResultDirection: 'string', SourceIpAddress: 'string', SourceResourceId: 'string', DestinationFqdn: 'string',
      Count: 'long', LastSeen: 'datetime',
    });
  });

  it('keeps flow columns for the would-be-denied categories, by their names as literals', () => {
    const a = kqlAnalysis(accessLogQuery({ perimeterIds: [PERIMETER], accountIds: [], windowDays: 14 }), NSP_ACCESS_LOGS);
    for (const category of WOULD_BE_DENIED_CATEGORIES) assert.ok(a.strings.includes(category), category);
  });

  it('keeps IDs with quotes, backslashes and an injected pipe inside their literals', () => {
    const hostile = [
      `${PERIMETER}') | take 1 //`,
      `${PERIMETER}\\`,
      `${PERIMETER}\\'`,
      `${PERIMETER}"x"`,
      `${PERIMETER}' or 1 == 1 or '' == '`,
      `${PERIMETER}\n| take 1\r\n`,
    ];
    const injectedAccount = `${account('a')}') | project Count = 1 //`;
    const a = kqlAnalysis(accessLogQuery({ perimeterIds: hostile, accountIds: [injectedAccount], windowDays: 14 }), NSP_ACCESS_LOGS);
    assert.deepEqual(a.diagnostics, []);
    assert.deepEqual(a.operators, OPERATORS.filtered, 'no operator came from an ID; summarize and project are still last');
    assert.deepEqual(a.strings.filter((s) => s.startsWith('/subscriptions/')), [...hostile, injectedAccount].map((id) => id.toLowerCase()));
    assert.deepEqual(a.columns?.map((c) => c.name), [...ACCESS_LOG_COLUMNS]);
  });

  it('kqlString gives one literal whose value is the string, whatever its characters', () => {
    const risky = fc.string({ unit: fc.constantFrom('\'', '"', '\\', '\n', '\r', '\t', '\0', '\u2028', '|', '/', '(', ')', ' ', 'a', 'é'), maxLength: 12 });
    fc.assert(
      fc.property(fc.oneof(risky, fc.string({ unit: 'binary', maxLength: 12 })), (value) => {
        const a = kqlAnalysis(`NSPAccessLogs | where Category == ${kqlString(value)}`, NSP_ACCESS_LOGS);
        assert.deepEqual(a.diagnostics, []);
        assert.deepEqual(a.strings, [value]);
        assert.deepEqual(a.operators, ['where']);
      }),
      { numRuns: 100 },
    );
  });

  it('is checked for real: a column the schema lacks, a misspelt column and a syntax error are reported', () => {
    const query = accessLogQuery({ perimeterIds: [PERIMETER], accountIds: [account('a')], windowDays: 14 });
    // Each column the query reads, taken out of the schema, makes the real query wrong.
    for (const column of ['TimeGenerated', 'Category', 'ServiceResourceId', 'ResultDirection', 'SourceIpAddress', 'SourceResourceId', 'DestinationFqdn', '_ResourceId']) {
      const schema = NSP_ACCESS_LOGS.NSPAccessLogs.replace(new RegExp(`(, )?\\b${column}:\\w+`), '').replace('(, ', '(');
      const found = kqlDiagnostics(query, { NSPAccessLogs: schema });
      assert.ok(found.some((d) => d.severity === 'Error' && d.message.includes(`'${column}'`)), `${column}: ${JSON.stringify(found)}`);
    }
    const misspelt = kqlDiagnostics(query.replace('by ServiceResourceId = tolower(ServiceResourceId)', 'by ServiceResourceId = tolower(ServiceResourceld)'), NSP_ACCESS_LOGS);
    assert.deepEqual(misspelt.map((d) => [d.code, d.at]), [['KS142', query.indexOf('tolower(ServiceResourceId), Category') + 'tolower('.length]]);
    const broken = kqlDiagnostics(query.replace('| summarize Count = count(),', '| summarize Count = count(),,'), NSP_ACCESS_LOGS);
    assert.ok(broken.some((d) => d.severity === 'Error'), JSON.stringify(broken));
  });
});

/**
 * The columns of a Resource Graph row (Resource Graph docs, "Explore your Azure resources": `id, name,
 * type, tenantId, kind, location, resourceGroup, subscriptionId, managedBy, sku, plan, properties, tags,
 * identity, zones, extendedLocation`), the same in every table the project reads.
 */
const ARG_ROW = '(id:string, name:string, type:string, tenantId:string, kind:string, location:string, resourceGroup:string, subscriptionId:string, '
  + 'managedBy:string, sku:dynamic, plan:dynamic, properties:dynamic, tags:dynamic, identity:dynamic, zones:dynamic, extendedLocation:dynamic)';
const ARG_TABLES = { resources: ARG_ROW, networkresources: ARG_ROW, authorizationresources: ARG_ROW, resourcecontainers: ARG_ROW };

/**
 * The tabular operators Resource Graph supports (Resource Graph docs, "Understanding the Azure Resource
 * Graph query language", "Supported tabular/top level operators"): Kusto.Language knows all of Kusto,
 * so a query it accepts may still use an operator Resource Graph refuses.
 */
const ARG_OPERATORS = new Set(['count', 'distinct', 'extend', 'join', 'limit', 'mvexpand', 'mv-expand', 'order', 'project', 'project-away', 'sort', 'summarize', 'take', 'top', 'union', 'where']);

const SUBSCRIPTION_ROW = { id: `/subscriptions/${SUB}`, subscriptionId: SUB, name: 'prod', type: 'microsoft.resources/subscriptions' };

/**
 * A Resource Graph reader over a fake client that keeps the text of every query sent and answers
 * each with one subscription row (a row of another type is ignored by the collector), except that
 * management group `mg-excluded` holds a subscription of its own, which management group `mg-1`
 * holds too (so a scan of `mg-1` excluding `mg-excluded` has a subscription it does not read).
 */
function recordingReader(sent: Set<string>): ResourceGraphReader {
  const excluded = { ...SUBSCRIPTION_ROW, id: '/subscriptions/excluded', subscriptionId: 'excluded' };
  const client = {
    resources: async (request: { query: string; managementGroups?: string[] }) => {
      sent.add(request.query);
      const rows = request.managementGroups?.includes('mg-excluded') ? [excluded] : request.managementGroups?.includes('mg-1') ? [SUBSCRIPTION_ROW, excluded] : [SUBSCRIPTION_ROW];
      return { totalRecords: rows.length, count: rows.length, resultTruncated: 'false', data: rows, facets: [] };
    },
  };
  return new ResourceGraphReader(client as unknown as ResourceGraphClient);
}

/** Every query text the collector sends, from its entry points over each kind of scope. */
async function queriesTheCollectorSends(): Promise<Set<string>> {
  const sent = new Set<string>();
  const reader = recordingReader(sent);
  const log = () => undefined;
  const sink: AccountBatchSink = { page: async () => undefined, keep: async () => undefined, discard: async () => undefined };
  await collectContext(reader, { subscriptions: [], managementGroups: [] }, log);
  await collectContext(reader, { subscriptions: [SUB], managementGroups: ['mg-1'] }, log, { subscriptions: ['other'], managementGroups: ['mg-excluded'] });
  await collectAccounts(reader, [SUB], { log, batch: () => sink });
  await collectAccounts(reader, [SUB], { log, tenantWide: true, batch: () => sink });
  await subscriptionsUnder(reader, 'mg-1');
  return sent;
}

describe('the Resource Graph queries, checked by Kusto.Language', () => {
  for (const [name, spec] of Object.entries(TABLES)) {
    it(`${name} (${spec.table}, ${spec.type}) has no diagnostic, uses only Resource Graph's operators and projects id`, () => {
      const a = kqlAnalysis(tableQuery(spec), ARG_TABLES);
      assert.deepEqual(a.diagnostics, []);
      assert.deepEqual(a.operators.filter((o) => !ARG_OPERATORS.has(o)), []);
      assert.ok(a.columns?.some((c) => c.name === 'id'), 'paging needs id (AZURE-FACTS.md)');
      assert.deepEqual(a.strings[0], spec.type, 'the type compared is the spec\'s, as one literal');
    });
  }

  it('the collector sends exactly those queries and the scope-level role-assignment ones, whatever the scope, and each has no diagnostic', async () => {
    const sent = await queriesTheCollectorSends();
    for (const query of sent) assert.deepEqual(kqlDiagnostics(query, ARG_TABLES), [], query);
    // Tenant scope: every subscription read by the batches; management group mg-1: `excluded` is not.
    const scopeLevel = [...scopeLevelRoleAssignmentQueries([]), ...scopeLevelRoleAssignmentQueries(['excluded'])];
    const together = new Set<string>(READ_TOGETHER);
    const perTable = Object.entries(TABLES).filter(([name]) => !together.has(name)).map(([, spec]) => tableQuery(spec));
    assert.deepEqual([...sent].sort(), [...perTable, readTogetherQuery(), ...scopeLevel].sort());
  });

  it('the tables read together: one query of their Resource Graph table, each type compared as one literal, their one projection', () => {
    const specs = READ_TOGETHER.map((name) => TABLES[name]);
    assert.equal(new Set(specs.map((s) => `${s.table}|${s.project}`)).size, 1, 'the same table and projection');
    const a = kqlAnalysis(readTogetherQuery(), ARG_TABLES);
    assert.deepEqual(a.diagnostics, []);
    assert.deepEqual(a.operators, ['where', 'project']);
    assert.deepEqual(a.strings, specs.map((s) => s.type));
    assert.deepEqual(a.columns?.map((c) => c.name), ['id', 'type', 'subscriptionId']);
  });

  it('the scope-level role-assignment queries read the rows of no subscription once, and each subscription not read once', () => {
    const subs = Array.from({ length: 2 * MAX_SUBSCRIPTIONS_IN_FILTER + 1 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
    const cases: Array<[string[], number]> = [[[], 1], [[SUB], 1], [subs.slice(0, MAX_SUBSCRIPTIONS_IN_FILTER), 1], [subs, 3]];
    for (const [notRead, count] of cases) {
      const queries = scopeLevelRoleAssignmentQueries(notRead);
      assert.equal(queries.length, count);
      const named: string[] = [];
      queries.forEach((query, i) => {
        const a = kqlAnalysis(query, ARG_TABLES);
        assert.deepEqual(a.diagnostics, [], query);
        assert.deepEqual(a.operators, ['where', 'where', 'project']);
        assert.deepEqual(a.columns?.map((c) => c.name), ['id', 'type', 'subscriptionId', 'properties']);
        assert.equal(a.strings[0], TABLES.roleAssignments.type);
        assert.equal(query.includes('isempty(subscriptionId)'), i === 0, 'only the first query reads the rows of no subscription');
        named.push(...a.strings.slice(1).filter((s) => s !== 'principalId' && s !== 'roleDefinitionId' && s !== 'scope'));
      });
      assert.deepEqual(named, notRead, 'every subscription named once, as a literal of its own');
    }
  });

  it('the scope-level role-assignment query keeps hostile subscription IDs inside their literals', () => {
    const hostile = ['x\') | take 1 //', 'y\\', 'z\n| project id', '\' or 1 == 1 or \'\' == \''];
    const [query = ''] = scopeLevelRoleAssignmentQueries(hostile);
    const a = kqlAnalysis(query, ARG_TABLES);
    assert.deepEqual(a.diagnostics, []);
    assert.deepEqual(a.operators, ['where', 'where', 'project']);
    assert.deepEqual(a.strings.slice(1, 1 + hostile.length), hostile);
  });

  it('is checked for real: a misspelt column, an unknown table, a syntax error and an operator Resource Graph lacks are reported', () => {
    const accounts = TABLES.accounts;
    const misspelt = tableQuery({ ...accounts, project: accounts.project.replace('properties.networkAcls', 'propertiess.networkAcls') });
    assert.deepEqual(kqlDiagnostics(misspelt, ARG_TABLES).map((d) => [d.code, d.at]), [['KS142', misspelt.indexOf('propertiess')]]);
    const table = kqlDiagnostics(typeQuery('networkresource', TABLES.associations.type, 'id'), ARG_TABLES);
    assert.ok(table.some((d) => d.severity === 'Error' && d.message.includes('networkresource')), JSON.stringify(table));
    const broken = kqlDiagnostics(tableQuery({ ...TABLES.accessRules, project: TABLES.accessRules.project.replace(/\)$/, '') }), ARG_TABLES);
    assert.ok(broken.some((d) => d.severity === 'Error'), JSON.stringify(broken));
    const serialized = kqlAnalysis(`${tableQuery(TABLES.subscriptions)} | serialize`, ARG_TABLES);
    assert.deepEqual(serialized.diagnostics, []);
    assert.deepEqual(serialized.operators.filter((o) => !ARG_OPERATORS.has(o)), ['serialize']);
  });

  it('binds every column of a schema, a keyword-named one too, and refuses a schema it cannot read', () => {
    assert.deepEqual(kqlAnalysis('resources | project kind, zones, extendedLocation', ARG_TABLES).columns, [
      { name: 'kind', type: 'string' }, { name: 'zones', type: 'dynamic' }, { name: 'extendedLocation', type: 'dynamic' },
    ]);
    assert.throws(() => kqlDiagnostics('T', { T: '(a:strin)' }), /a:strin/);
    assert.throws(() => kqlDiagnostics('T', { T: 'a:string' }), /not "\(Column:type/);
  });
});
