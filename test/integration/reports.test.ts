import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { text } from 'node:stream/consumers';
import { beforeAll, describe, it } from 'vitest';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { parse } from 'csv-parse/sync';
import { parsePolicyText } from '../../src/config/policy.js';
import type { Finding } from '../../src/domain/rule.js';
import { CSV_COLUMNS } from '../../src/reports/csv.js';
import { writeHtml } from '../../src/reports/html.js';
import { rerenderReports } from '../../src/reports/rerender.js';
import type { ReportSummary } from '../../src/reports/summary.js';
import { memoryFindings } from '../../src/store/artifact.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { DirectoryStore } from '../../src/store/stores.js';
import { HOSTILE, hostileTenant } from '../helpers/hostile.js';
import { FIXTURES } from '../helpers/paths.js';
import { sampleTenant, scanSimulator, SUB_DEV, SUB_PROD, withSimulator } from '../helpers/sample.js';

const OFFICIAL_SARIF_SCHEMA = createRequire(import.meta.url).resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

interface Output {
  dir: string;
  scan: ScanDocument;
  findings: Finding[];
  file: (name: string) => Promise<string>;
}

async function scanInto(tenantPromise: ReturnType<typeof sampleTenant>, dir?: string, policyText?: string): Promise<Output> {
  const out = dir ?? (await mkdtemp(join(tmpdir(), 'pa-reports-')));
  const tenant = await tenantPromise;
  const policy = policyText ? parsePolicyText(policyText, 'test policy') : undefined;
  const { scan, findings } = await withSimulator({ tenant }, (sim) => scanSimulator(sim, { stores: [new DirectoryStore(out)], ...(policy ? { policy } : {}) }));
  return { dir: out, scan, findings: [...findings], file: (name) => readFile(join(out, name), 'utf8') };
}

describe('reports of the hostile tenant', () => {
  let o: Output;
  beforeAll(async () => {
    o = await scanInto(hostileTenant(), undefined, `exemptions:
  - name: legacy-keys
    rules: [AUTH-01]
    target: { resourceGroup: /subscriptions/${SUB_PROD}/resourceGroups/rg-ai-legacy }
    category: Mitigated
    justification: Keys are rotated daily by the platform team.
`);
  });

  it('shows exemptions: CSV column, SARIF suppression, HTML note, summary counts', async () => {
    const exempted = o.findings.filter((f) => f.exemption);
    assert.equal(exempted.length, 1);
    assert.equal(exempted[0]?.outcome, 'fail', 'the real outcome is kept');
    const rows = parse(await o.file('report.csv')) as string[][];
    const exemption = CSV_COLUMNS.indexOf('exemption');
    assert.ok(rows.some((r) => r[exemption] === 'Mitigated: legacy-keys'));
    const sarif = JSON.parse(await o.file('report.sarif')) as { runs: Array<{ results: Array<{ ruleId: string; suppressions?: Array<{ kind: string; status: string }> }> }> };
    const suppressed = sarif.runs[0]?.results.filter((r) => r.suppressions) ?? [];
    assert.equal(suppressed.length, 1);
    assert.deepEqual(suppressed[0]?.suppressions?.map((x) => [x.kind, x.status]), [['external', 'accepted']]);
    assert.match(await o.file('report.html'), /exempted \(Mitigated: <bdi>legacy-keys<\/bdi>\)/);
    const summary = JSON.parse(await o.file('report.json')) as ReportSummary;
    assert.equal(summary.exempted.byOutcome.fail, 1);
    assert.equal(o.scan.summary.exempted.failsByRule['AUTH-01'], 1);
  });

  it('CSV: RFC 4180, one row per finding, formulas neutralised', async () => {
    const raw = await o.file('report.csv');
    assert.ok(raw.includes('\r\n'), 'CRLF record delimiters');
    const rows = parse(raw, { relax_column_count: false }) as string[][];
    assert.deepEqual(rows[0], [...CSV_COLUMNS]);
    assert.equal(rows.length - 1, o.findings.length);
    for (const row of rows.slice(1)) {
      assert.equal(row.length, CSV_COLUMNS.length);
      for (const cell of row) assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `dangerous cell ${JSON.stringify(cell)}`);
    }
    const formulaRow = rows.find((r) => r[2]?.includes('HYPERLINK("evil.example"'));
    assert.ok(formulaRow);
    assert.equal(formulaRow[2], `'${HOSTILE.formulaName}`, 'the name is kept, behind a quote');
    const markupRows = rows.filter((r) => r[2] === HOSTILE.markupName);
    assert.ok(markupRows.length > 0);
    assert.ok(markupRows[0]?.[9]?.includes(`owner=${HOSTILE.tags.owner}`), 'tags are exported, as text');
  });

  it('CSV: the remediation column holds the filled az command of each fail, and nothing for other outcomes', async () => {
    const rows = parse(await o.file('report.csv'), { columns: true }) as Array<Record<(typeof CSV_COLUMNS)[number], string>>;
    assert.equal(rows.length, o.findings.length);
    for (const r of rows) {
      if (r.outcome === 'fail') assert.match(r.remediation, /^az /, `${r.ruleId} ${r.accountName}`);
      else assert.equal(r.remediation, '', `${r.ruleId} ${r.outcome}`);
    }
    // The account's names, shell-quoted where they need it (the formula-like name as one quoted word).
    const id01 = rows.find((r) => r.ruleId === 'ID-01' && r.accountName === `'${HOSTILE.formulaName}`);
    assert.equal(id01?.outcome, 'fail');
    assert.equal(id01?.remediation, `az cognitiveservices account identity assign --subscription ${SUB_PROD} --resource-group rg-ai-prod --name '${HOSTILE.formulaName}'`);
  });

  it('HTML: every piece of resource text is escaped; only our one script remains', async () => {
    const html = await o.file('report.html');
    for (const raw of [HOSTILE.markupName, HOSTILE.perimeterName, HOSTILE.tags.script, HOSTILE.tags.attr, '<img src=x', '<svg onload']) {
      assert.ok(!html.includes(raw), `raw ${raw} in the page`);
    }
    assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=window.__pwned=1&gt;'), 'the hostile name is shown escaped');
    assert.ok(html.includes('&lt;script&gt;window.__pwned=2&lt;/script&gt;'), 'the hostile tag is shown escaped');
    assert.equal(html.match(/<script/g)?.length, 1);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &apos;none&apos;;/);
    assert.doesNotMatch(html, /<(link|iframe|object|embed)\b|src="http|href="http/i, 'self-contained');
  });

  it('SARIF: validates against the SARIF 2.1.0 schema, fails and unknowns as results', async () => {
    const sarif = JSON.parse(await o.file('report.sarif')) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    // The SARIF 2.1.0 schema as Microsoft's @microsoft/jest-sarif ships it (draft-04), and this project's stricter
    // schema of the subset it emits (draft-07, no unknown members).
    // Its `language` pattern has a stray `]`, invalid with the `u` flag: compile patterns without it, as browsers would.
    const official = new AjvDraft04.default({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats.default(official);
    const subset = new Ajv({ allErrors: true, strict: false });
    addFormats.default(subset);
    const validators = [
      { name: 'sarif-2.1.0-rtm.5 (official)', ajv: official, schema: JSON.parse(await readFile(OFFICIAL_SARIF_SCHEMA, 'utf8')) },
      { name: 'sarif-2.1.0-subset', ajv: subset, schema: JSON.parse(await readFile(join(FIXTURES, 'sarif-2.1.0-subset.schema.json'), 'utf8')) },
    ];
    for (const { name, ajv, schema } of validators) {
      const validate = ajv.compile(schema);
      assert.ok(validate(sarif), `${name}: ${ajv.errorsText(validate.errors)}`);
      const broken = JSON.parse(JSON.stringify(sarif)) as { runs: Array<{ results: Array<{ level: string }> }> };
      const firstResult = broken.runs[0]?.results[0];
      assert.ok(firstResult);
      firstResult.level = 'critical';
      assert.equal(validate(broken), false, `${name} rejects a level SARIF does not define`);
    }
    const run = sarif.runs[0];
    assert.equal(run.tool.driver.rules.length, o.scan.rules.length);
    assert.equal(run.tool.driver.rules[0].name, o.scan.rules[0]?.slug);
    assert.match(run.tool.driver.rules[0].helpUri, /^https:\/\/learn\.microsoft\.com\//);
    const expected = o.findings.filter((f) => f.outcome === 'fail' || f.outcome === 'unknown');
    assert.equal(run.results.length, expected.length);
    const high = run.results.find((r: { ruleId: string; properties: { outcome: string } }) => r.ruleId === 'NSP-01' && r.properties.outcome === 'fail');
    assert.equal(high.level, 'error');
    assert.equal(run.results.filter((r: { level: string; properties: { outcome: string } }) => r.properties.outcome === 'unknown' && r.level !== 'note').length, 0);
    const loc = high.locations[0].logicalLocations[0];
    assert.ok(o.findings.some((f) => f.resourceId === loc.fullyQualifiedName && f.accountName === loc.name));
    assert.equal(run.automationDetails.id, `perimeter-auditor/${o.scan.scanId}`);
    // A partial scan is not a successful execution, and says why; a fail carries its fix with the account's names.
    assert.equal(o.scan.status, 'partial');
    assert.equal(run.invocations[0].executionSuccessful, false);
    assert.match(run.invocations[0].toolExecutionNotifications[0].message.text, /^Partial scan: .*unreadable/);
    const ownFix = run.results.find((r: { ruleId: string; properties: { outcome: string } }) => r.ruleId === 'NSP-02' && r.properties.outcome === 'fail');
    assert.match(ownFix.properties.remediation.az, /az network perimeter association update .*--access-mode Enforced/);
    assert.doesNotMatch(ownFix.properties.remediation.az, /<association>/, 'the association is filled from the evidence');
  });

  it('JSON summary: counts agree with the findings', async () => {
    const s = JSON.parse(await o.file('report.json')) as ReportSummary;
    assert.equal(s.scanId, o.scan.scanId);
    assert.deepEqual(s.byOutcome, o.scan.summary.byOutcome);
    assert.equal(s.accounts.total, o.scan.coverage.accounts);
    const failing = new Set(o.findings.filter((f) => f.outcome === 'fail').map((f) => f.resourceId));
    assert.equal(s.accounts.withFail, failing.size);
    assert.deepEqual(Object.keys(s.bySubscription).sort(), [SUB_PROD, SUB_DEV].sort());
    const ns2 = o.scan.rules.filter((r) => r.controls.mcsb.includes('NS-2')).reduce((n, r) => n + (o.scan.summary.byRule[r.id]?.fail ?? 0), 0);
    assert.equal(s.byControl.mcsb['NS-2']?.fail, ns2);
    assert.equal(s.byControl.cis['7.16']?.fail, (o.scan.summary.byRule['NSP-01']?.fail ?? 0) + (o.scan.summary.byRule['NSP-02']?.fail ?? 0));
  });
});

describe('report command and changes between scans', () => {
  it('round trip: reports rendered again from scan.json and findings.ndjson are byte-identical to the scan\'s', async () => {
    const o = await scanInto(sampleTenant());
    const again = await mkdtemp(join(tmpdir(), 'pa-rerender-'));
    const files = await rerenderReports({ scanDir: o.dir, formats: ['csv', 'sarif', 'json'], outDir: again });
    assert.equal(files.length, 3);
    for (const name of ['report.csv', 'report.sarif', 'report.json']) {
      assert.equal(await readFile(join(again, name), 'utf8'), await o.file(name), name);
    }
  });

  it('reports rendered from the saved files say what findings.ndjson says, finding by finding', async () => {
    const o = await scanInto(sampleTenant());
    const again = await mkdtemp(join(tmpdir(), 'pa-rerender-'));
    await rerenderReports({ scanDir: o.dir, formats: ['csv', 'sarif', 'json'], outDir: again });
    const saved = (await o.file('findings.ndjson')).trimEnd().split('\n').map((l) => JSON.parse(l) as Finding);
    assert.equal(saved.length, o.scan.coverage.accounts * o.scan.rules.length);
    const key = (resourceId: string, ruleId: string, outcome: string) => `${resourceId.toLowerCase()} ${ruleId} ${outcome}`;

    // CSV: one row per finding, with its account, rule, severity, outcome and message.
    const [header, ...rows] = parse(await readFile(join(again, 'report.csv'), 'utf8')) as string[][];
    const col = (name: (typeof CSV_COLUMNS)[number]) => header?.indexOf(name) ?? -1;
    const csv = rows.map((r) => `${key(r[col('resourceId')] ?? '', r[col('ruleId')] ?? '', r[col('outcome')] ?? '')} ${r[col('severity')]} ${r[col('message')]}`);
    assert.deepEqual(csv.sort(), saved.map((f) => `${key(f.resourceId, f.ruleId, f.outcome)} ${f.severity} ${f.message}`).sort());

    // SARIF: one result per fail and per unknown, on that account and rule.
    type Result = { ruleId: string; properties: { outcome: string }; locations: Array<{ logicalLocations: Array<{ fullyQualifiedName: string }> }> };
    const sarif = JSON.parse(await readFile(join(again, 'report.sarif'), 'utf8')) as { runs: Array<{ results: Result[] }> };
    const results = (sarif.runs[0]?.results ?? []).map((r) => key(r.locations[0]?.logicalLocations[0]?.fullyQualifiedName ?? '', r.ruleId, r.properties.outcome));
    const reported = saved.filter((f) => f.outcome === 'fail' || f.outcome === 'unknown');
    assert.ok(reported.some((f) => f.outcome === 'fail') && reported.some((f) => f.outcome === 'unknown'), 'the sample tenant has both');
    assert.deepEqual(results.sort(), reported.map((f) => key(f.resourceId, f.ruleId, f.outcome)).sort());

    // JSON: the counts by outcome and by rule are the findings' counts.
    const summary = JSON.parse(await readFile(join(again, 'report.json'), 'utf8')) as ReportSummary;
    const count = (pick: (f: Finding) => boolean) => saved.filter(pick).length;
    for (const outcome of ['pass', 'fail', 'not_applicable', 'unknown'] as const) assert.equal(summary.byOutcome[outcome], count((f) => f.outcome === outcome), outcome);
    assert.equal(summary.scanId, o.scan.scanId);
  });

  it('shows new and resolved fails against a previous scan', async () => {
    const first = await scanInto(sampleTenant());
    const tenant = await sampleTenant();
    const set = (name: string, value: boolean) => {
      const row = tenant.resources.find((r) => r.name === name);
      (row?.properties as Record<string, unknown>).disableLocalAuth = value;
    };
    set('oai-legacy-prod', true); // AUTH-01 fail → pass
    set('oai-chat-prod', false); // AUTH-01 pass → fail
    const second = await scanInto(Promise.resolve(tenant));
    await rerenderReports({ scanDir: second.dir, formats: ['html'], previousDir: first.dir });
    const html = await second.file('report.html');
    assert.match(html, /New since previous scan: 1</);
    assert.match(html, /Resolved since previous scan: 1</);
    const newSection = html.slice(html.indexOf('New since previous scan'), html.indexOf('Resolved since previous scan'));
    assert.match(newSection, /oai-chat-prod[\s\S]*AUTH-01/);
    const resolvedSection = html.slice(html.indexOf('Resolved since previous scan'), html.indexOf('id="chart"'));
    assert.match(resolvedSection, /oai-legacy-prod[\s\S]*AUTH-01/);
    assert.match(html, new RegExp(`compared with <code>${first.scan.scanId}</code>`));
  });

  it('caps the accounts shown in HTML to the worst, worst first, and says where the rest is', async () => {
    const o = await scanInto(sampleTenant());
    const out = new PassThrough();
    const done = text(out);
    await writeHtml(o.scan, memoryFindings(o.findings), out, { accountCap: 3 });
    out.end();
    const html = await done;
    assert.match(html, /19 accounts: this page shows the 3 worst of them/);
    const states = [...html.matchAll(/<details class="account" data-state="(\w+)"/g)].map((m) => m[1]);
    assert.deepEqual(states, ['fail', 'fail', 'fail']);
    // The 3 worst of the scan: most high-severity fails, then medium, low, unknowns; ties by name.
    const risk = new Map<string, { name: string; n: number[] }>();
    for (const f of o.findings) {
      const r = risk.get(f.resourceId) ?? { name: f.accountName, n: [0, 0, 0, 0] };
      const k = f.outcome === 'fail' ? ['high', 'medium', 'low'].indexOf(f.severity) : f.outcome === 'unknown' ? 3 : -1;
      if (k >= 0) r.n[k] = (r.n[k] ?? 0) + 1;
      risk.set(f.resourceId, r);
    }
    const compare = (a: number[], b: number[]) => b.map((x, k) => x - (a[k] ?? 0)).find((d) => d !== 0) ?? 0;
    const worst = [...risk.values()].sort((a, b) => compare(a.n, b.n) || (a.name < b.name ? -1 : 1)).slice(0, 3).map((r) => r.name);
    const shown = [...html.matchAll(/<details class="account"[^>]*><summary><strong><bdi>([^<]*)<\/bdi>/g)].map((m) => m[1]);
    assert.deepEqual(shown, worst);
    assert.match(html, /report\.csv/);
  });
});
