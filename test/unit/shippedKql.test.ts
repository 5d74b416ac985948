import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { OUTCOMES, SEVERITIES } from '../../src/domain/rule.js';
import { type ColumnType, EXPORT_TABLES, FINDINGS_TABLE } from '../../src/export/tables.js';
import { RULES } from '../../src/rules/index.js';
import { kqlAnalysis, type KqlAnalysis, kqlDiagnostics, type KqlTables } from '../helpers/kusto.js';
import { ROOT } from '../helpers/paths.js';

/**
 * Every KQL text the project ships to users (issue 19): each query of the Azure Monitor workbook
 * (infra/workbooks/perimeter-auditor.workbook.json, deployed as is by infra/modules/workbook.bicep) and
 * the Microsoft Sentinel rule (infra/sentinel/new-high-fail.kql, loaded by infra/modules/sentinel.bicep),
 * analysed by Microsoft's Kusto parser (test/helpers/kusto.ts) against the two custom tables as the code
 * defines them (EXPORT_TABLES, src/export/tables.ts): no diagnostic at all. The drift check holds the
 * deployed workbook and rule to these files (scripts/infra/check.ts).
 */

/** Log Analytics column type → Kusto type. */
const KUSTO_TYPE: Readonly<Record<ColumnType, string>> = {
  string: 'string', int: 'int', long: 'long', real: 'real', boolean: 'bool', datetime: 'datetime', dynamic: 'dynamic',
};

/** The export tables as the analyser binds them: `(Column:type, …)` from the code's one definition. */
const TABLES: KqlTables = Object.fromEntries(EXPORT_TABLES.map((t) => [t.table, `(${t.columns.map((c) => `${c.name}:${KUSTO_TYPE[c.type]}`).join(', ')})`]));

const WORKBOOK_FILE = 'infra/workbooks/perimeter-auditor.workbook.json';
const SENTINEL_FILE = 'infra/sentinel/new-high-fail.kql';

/** A `query` found in the workbook: where (JSON path), the item's name and its content. */
interface WorkbookQuery {
  readonly path: string;
  readonly name: string;
  readonly query: string;
  readonly content: Readonly<Record<string, unknown>>;
}

/**
 * Every `query` string anywhere in a workbook's JSON (query items, items in groups, parameter queries),
 * found by walking the whole document, with the name of the item that holds it.
 */
function workbookQueries(doc: unknown): WorkbookQuery[] {
  const out: WorkbookQuery[] = [];
  const walk = (node: unknown, path: string, item: string): void => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, `${path}[${i}]`, item));
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const o = node as Record<string, unknown>;
    const name = typeof o.name === 'string' && 'type' in o ? o.name : item;
    for (const [k, v] of Object.entries(o)) {
      if (k === 'query' && typeof v === 'string') out.push({ path: `${path}.query`, name, query: v, content: o });
      else walk(v, `${path}.${k}`, name);
    }
  };
  walk(doc, '$', '');
  return out;
}

const workbook = JSON.parse(readFileSync(join(ROOT, WORKBOOK_FILE), 'utf8')) as { items?: unknown[] };
const QUERIES = workbookQueries(workbook);
const SENTINEL = readFileSync(join(ROOT, SENTINEL_FILE), 'utf8');

/** The string values a shipped query may compare with: what the code writes in those columns, rule IDs, and strcat's punctuation. */
const KNOWN_LITERALS = new Set<string>([...OUTCOMES, ...SEVERITIES, 'scan', 'event', ...RULES.map((r) => r.id), '', ' (', ')']);

/** Literals of the query that the code never writes (a typo such as 'Fail' matches nothing, silently). */
const unknownLiterals = (a: KqlAnalysis): string[] => a.strings.filter((s) => !KNOWN_LITERALS.has(s));

const columns = (a: KqlAnalysis): Array<[string, string]> => (a.columns ?? []).map((c) => [c.name, c.type]);

describe('the workbook\'s queries, checked by Kusto.Language against the export tables', () => {
  it('are found by walking the workbook: its five panels, each a Log Analytics query of the workspace', () => {
    assert.deepEqual(QUERIES.map((q) => q.name), [
      'compliance-over-time', 'fails-by-rule-and-severity', 'regressed-this-week', 'perimeter-mode-by-account', 'enforcement-readiness',
    ]);
    for (const q of QUERIES) {
      assert.equal(q.content.version, 'KqlItem/1.0', q.path);
      assert.equal(q.content.queryType, 0, `${q.path}: queryType 0 is Logs`);
      assert.equal(q.content.resourceType, 'microsoft.operationalinsights/workspaces', q.path);
    }
  });

  for (const q of QUERIES) {
    it(`${q.name}: no diagnostic, and only values the code writes are compared`, () => {
      const a = kqlAnalysis(q.query, TABLES);
      assert.deepEqual(a.diagnostics, [], q.query);
      assert.deepEqual(unknownLiterals(a), [], q.query);
    });
  }

  const analysed = (name: string): KqlAnalysis => {
    const q = QUERIES.find((x) => x.name === name);
    assert.ok(q, name);
    return kqlAnalysis(q.query, TABLES);
  };

  it('each panel answers the columns it shows', () => {
    assert.deepEqual(columns(analysed('compliance-over-time')), [['TimeGenerated', 'datetime'], ['CompliantPercent', 'real']]);
    assert.deepEqual(columns(analysed('fails-by-rule-and-severity')), [['TimeGenerated', 'datetime'], ['Rule', 'string'], ['Fails', 'long']]);
    assert.deepEqual(columns(analysed('regressed-this-week')), [
      ['RegressedAt', 'datetime'], ['AccountName', 'string'], ['RuleId', 'string'], ['Severity', 'string'], ['RegressedFrom', 'string'],
      ['Exempted', 'bool'], ['Message', 'string'], ['SubscriptionId', 'string'], ['ResourceId', 'string'],
    ]);
    assert.deepEqual(columns(analysed('perimeter-mode-by-account')).map(([n]) => n), ['AccountName', 'Outcome', 'Message', 'SubscriptionId', 'ResourceGroup', 'Location', 'ResourceId']);
    assert.deepEqual(columns(analysed('enforcement-readiness')).map(([n]) => n), ['AccountName', 'Outcome', 'Severity', 'Message', 'SubscriptionId', 'ResourceGroup', 'ResourceId']);
  });

  it('the perimeter-mode and readiness panels read NSP-02 and NSP-07 of the latest scan', () => {
    assert.ok(analysed('perimeter-mode-by-account').strings.includes('NSP-02'));
    assert.ok(analysed('enforcement-readiness').strings.includes('NSP-07'));
    for (const name of ['perimeter-mode-by-account', 'enforcement-readiness']) assert.ok(analysed(name).operators.includes('summarize'), `${name} finds the latest scan`);
  });
});

describe('the Sentinel rule\'s query, checked by Kusto.Language against the export tables', () => {
  it('has no diagnostic, compares only values the code writes, and answers the columns the rule maps', () => {
    const a = kqlAnalysis(SENTINEL, TABLES);
    assert.deepEqual(a.diagnostics, []);
    assert.deepEqual(unknownLiterals(a), []);
    for (const v of ['fail', 'high', 'scan']) assert.ok(a.strings.includes(v), v);
    // infra/modules/sentinel.bicep: the AzureResource entity is ResourceId; the alert's name and details use these.
    const out = Object.fromEntries(columns(a));
    for (const c of ['ResourceId', 'AccountName', 'RuleId', 'Severity', 'Message', 'PreviousOutcome', 'ScanId']) assert.equal(out[c], 'string', c);
  });
});

describe('the check is live', () => {
  it('reports a misspelt column in a copy of a workbook query, and a column the table lacks in the Sentinel query', () => {
    const q = QUERIES.find((x) => x.name === 'regressed-this-week')!.query;
    const misspelt = q.replace('prev(RuleId) == RuleId', 'prev(RuleID) == RuleId');
    assert.notEqual(misspelt, q);
    assert.deepEqual(kqlDiagnostics(misspelt, TABLES).map((d) => [d.code, d.at]), [['KS142', misspelt.indexOf('RuleID')]]);
    const withoutExempted = { ...TABLES, [FINDINGS_TABLE.table]: TABLES[FINDINGS_TABLE.table]!.replace(', Exempted:bool', '') };
    const found = kqlDiagnostics(SENTINEL, withoutExempted);
    assert.ok(found.some((d) => d.severity === 'Error' && d.message.includes('\'Exempted\'')), JSON.stringify(found));
  });

  it('reports an outcome the code never writes (\'Fail\' for \'fail\'), which the parser alone accepts', () => {
    const q = QUERIES.find((x) => x.name === 'fails-by-rule-and-severity')!.query.replace('Outcome == \'fail\'', 'Outcome == \'Fail\'');
    const a = kqlAnalysis(q, TABLES);
    assert.deepEqual(a.diagnostics, []);
    assert.deepEqual(unknownLiterals(a), ['Fail']);
  });

  it('binds the tables from the code: Exempted is bool, CompliantPercent real, Controls dynamic', () => {
    assert.deepEqual(columns(kqlAnalysis('PerimeterAuditorFindings_CL | project Exempted, Controls', TABLES)), [['Exempted', 'bool'], ['Controls', 'dynamic']]);
    assert.deepEqual(columns(kqlAnalysis('PerimeterAuditorScans_CL | project CompliantPercent, Accounts', TABLES)), [['CompliantPercent', 'real'], ['Accounts', 'long']]);
  });
});
