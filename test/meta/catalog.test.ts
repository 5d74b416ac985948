import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { renderRuleTable, withRuleTable } from '../../scripts/render-rule-table.js';
import { defaultPolicy } from '../../src/config/policy.js';
import { RULES } from '../../src/rules/index.js';
import { ROOT as root } from '../helpers/paths.js';

const rulesDir = join(root, 'src', 'rules');
const sharedDir = join(root, '..', 'shared');

describe('rule registry', () => {
  it('has unique IDs, slugs and aliases', () => {
    const names = RULES.flatMap((r) => [r.id.toLowerCase(), r.slug, ...r.aliases.map((a) => a.toLowerCase())]);
    assert.equal(new Set(names).size, names.length);
  });

  it('registers every rule file, named {id}-{slug}.ts', () => {
    const files = readdirSync(rulesDir)
      .filter((f) => /^[a-z]+-\d\d-.*\.ts$/.test(f))
      .sort();
    const expected = RULES.map((r) => `${r.id.toLowerCase()}-${r.slug}.ts`).sort();
    assert.deepEqual(files, expected);
  });

  it('has the 21 rules of RULES.md, 20 on by default (NET-07 off)', () => {
    assert.equal(RULES.length, 21);
    assert.deepEqual(
      RULES.filter((r) => !r.enabledByDefault).map((r) => r.id),
      ['NET-07'],
    );
    assert.equal(defaultPolicy().enabledRules.size, 20);
    assert.deepEqual(
      RULES.filter((r) => r.deepInspection).map((r) => r.id),
      ['NSP-05', 'NSP-06', 'NSP-07'],
    );
  });

  for (const r of RULES) {
    it(`${r.id} has complete metadata`, () => {
      assert.match(r.id, /^(NSP|NET|ID|AUTH|ENC)-\d\d$/);
      assert.match(r.slug, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      assert.ok(r.title.length > 10 && !/^ensure/i.test(r.title), 'title states the compliant state');
      assert.ok(r.rationale.length > 40, 'rationale');
      assert.ok(r.appliesToText.length > 3);
      assert.ok(r.remediation.description.length > 10);
      assert.match(r.remediation.az, /^az /, 'remediation is a runnable az command');
      assert.ok(r.remediation.bicep.trim().length > 10, 'Bicep snippet');
      assert.ok(r.controls.mcsb.length > 0 && r.controls.mcsb.every((c) => /^[A-Z]{2}-\d+$/.test(c)), 'MCSB controls');
      for (const p of r.controls.azurePolicy) assert.match(p, /^[0-9a-f-]{36}$/);
      assert.ok(
        r.references.some((ref) => ref.startsWith('https://learn.microsoft.com/')),
        'cites learn.microsoft.com',
      );
      for (const ref of r.references) {
        if (ref.startsWith('https://')) assert.match(ref, /^https:\/\/learn\.microsoft\.com\//);
        else assert.match(ref, /^[a-z0-9-]+\.(md|txt)$/, `reference document name ${ref}`);
      }
    });
  }

  // shared/ is beside the project in a session and in CI, not in every clone.
  it.skipIf(!existsSync(sharedDir))('cites only reference documents that exist in shared/reference', () => {
    const docs = new Set(readdirSync(join(sharedDir, 'reference')));
    for (const r of RULES)
      for (const ref of r.references) if (!ref.startsWith('https://')) assert.ok(docs.has(ref), `${r.id}: ${ref}`);
  });

  it.skipIf(!existsSync(join(sharedDir, 'design', 'RULES.md')))('matches RULES.md: ID, slug, title and severity', () => {
    const text = readFileSync(join(sharedDir, 'design', 'RULES.md'), 'utf8');
    const rows = [
      ...text.matchAll(/^\| ((?:NSP|NET|ID|AUTH|ENC)-\d\d) \| ([a-z0-9-]+) \| ([^|]+) \| (high|medium|low) \|/gm),
    ];
    // Catalog rows whose rule is not built yet, each with the open issue that builds it.
    const planned: Record<string, string> = {};
    // Catalog rows whose new wording describes semantics an open issue builds.
    const changing: Record<string, string> = { 'ID-04': 'issue 21 (Cosmos DB and AI Search data sources)' };
    const ids = rows.map((r) => r[1]);
    for (const r of RULES) assert.ok(ids.includes(r.id), `${r.id} is not in RULES.md`);
    assert.equal(rows.length, RULES.length + Object.keys(planned).filter((id) => ids.includes(id)).length);
    for (const [, id, slug, title, severity] of rows) {
      if (id && planned[id] && !RULES.some((r) => r.id === id)) continue;
      const rule = RULES.find((r) => r.id === id);
      assert.ok(rule, `${id} missing`);
      assert.equal(rule.slug, slug);
      // A row whose new semantics an open issue builds keeps its old title until then.
      if (!(id && changing[id])) assert.equal(rule.title, title?.trim());
      assert.equal(rule.severity, severity);
    }
  });

  it('README carries the catalog table generated from this metadata (npm run docs:rules)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    assert.ok(readme.includes(renderRuleTable()), 'README rule table is stale: run `npm run docs:rules`');
    assert.equal(withRuleTable(readme), readme);
  });
});
