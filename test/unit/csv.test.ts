import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { describe, it } from 'vitest';
import type { Finding } from '../../src/domain/rule.js';
import { evaluateAccount } from '../../src/engine/evaluate.js';
import { CSV_COLUMNS, CsvRows } from '../../src/reports/csv.js';
import { findRule } from '../../src/rules/index.js';
import { aContext, anAccount, SUB } from '../helpers/builders.js';

/** AUTH-01's finding for an account named `name` in resource group `rg` (hostile text, say). */
function findingFor(name: string, rg: string, tags: Record<string, string> = {}): Finding {
  const account = { ...anAccount(), name, resourceGroup: rg, tags, id: `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.CognitiveServices/accounts/${name}` };
  const rule = findRule('AUTH-01');
  assert.ok(rule);
  const [f] = evaluateAccount(account, [rule], aContext());
  assert.ok(f);
  return f;
}

function csvOf(findings: readonly Finding[]): string {
  const rows = new CsvRows();
  let text = '';
  for (const f of findings) {
    rows.add(f);
    text += rows.take();
  }
  return text + rows.take(true);
}

describe('report.csv rows', () => {
  it('quotes exactly the cells that hold white space, quotes, commas or semicolons; another parser reads every cell back', () => {
    const names = ['plain-name', 'with space', 'with"quote', 'with,comma', 'with;semicolon', 'line\nbreak', 'tab\tinside', '=1+1', '-cmd', '\'already'];
    const findings = names.map((n, i) => findingFor(n, `rg-${i}`, { owner: n }));
    const text = csvOf(findings);
    assert.ok(text.endsWith('\r\n'), 'the last record ends in CRLF');
    const records = parse(text, { columns: true, relax_column_count: false }) as Record<string, string>[];
    assert.equal(records.length, names.length);
    for (const [i, n] of names.entries()) {
      const expected = /^[=+\-@\t\r]/.test(n) ? `'${n}` : n;
      assert.equal(records[i]?.accountName, expected, n);
      assert.equal(records[i]?.tags, `owner=${n}`);
    }
    // Quoting only where needed: the plain name's cell is bare, the others' are quoted.
    const lines = text.split('\r\n');
    assert.equal(lines[0], CSV_COLUMNS.join(','), 'the header row, bare');
    assert.ok(lines[1]?.includes(',plain-name,'), 'a plain cell is not quoted');
    assert.ok(text.includes(',"with space",'));
    assert.ok(text.includes(',"with""quote",'), 'quotes doubled inside a quoted cell');
    assert.ok(text.includes(',"with;semicolon",'));
    assert.ok(text.includes(',"with,comma",'));
    assert.ok(text.includes(',"line\nbreak",'), 'a line break inside a quoted cell');
    assert.ok(text.includes(',"tab\tinside",'), 'white space quoted');
    assert.ok(text.includes(`,'=1+1,`), 'a neutralised formula without white space stays bare');
  });

  it('more rows than one batch come out in the order added, each once', () => {
    const findings = Array.from({ length: 1234 }, (_, i) => findingFor(`acc-${i}`, 'rg'));
    const records = parse(csvOf(findings), { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      records.map((r) => r.accountName),
      findings.map((f) => f.accountName),
    );
  });

  it('no findings: the header row alone', () => {
    assert.equal(csvOf([]), `${CSV_COLUMNS.join(',')}\r\n`);
  });
});
