import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { ACCESS_LOG_COLUMNS, accessLogQuery, kqlString, MAX_ACCOUNTS_IN_QUERY, WOULD_BE_DENIED_CATEGORIES } from '../../src/collect/accessLogQuery.js';
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
