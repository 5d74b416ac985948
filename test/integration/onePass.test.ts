import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { describe, it, vi } from 'vitest';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'csv-parse/sync';
import { defaultPolicy, describePolicy } from '../../src/config/policy.js';
import type { Finding, Outcome } from '../../src/domain/rule.js';
import { type ArrivingPart, commitScan, type PartToCommit } from '../../src/pipeline/commit.js';
import { rulesOf } from '../../src/pipeline/evaluate.js';
import { RestartPass } from '../../src/pipeline/liveFindings.js';
import type { ScanPlan } from '../../src/pipeline/plan.js';
import { CSV_COLUMNS } from '../../src/reports/csv.js';
import type { ReportFormat } from '../../src/reports/index.js';
import { rerenderReports } from '../../src/reports/rerender.js';
import { remediationFor } from '../../src/reports/remediation.js';
import type { ReportSummary } from '../../src/reports/summary.js';
import { copyFile, fileFindings, FindingsFormatError, writeChunk } from '../../src/store/artifact.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { DirectoryStore, type ScanStore } from '../../src/store/stores.js';
import { FIXTURES } from '../helpers/paths.js';

/**
 * Issue 17, item 2: a commit reads its parts' findings once, and that one pass writes the summary,
 * findings.ndjson and every report format. The scans here are made by hand (two shards, hostile
 * text, an exemption), so every expectation below is derived from the findings themselves.
 */

const SUB_A = '0a0a0a0a-0000-4000-8000-00000000000a';
const SUB_B = '0b0b0b0b-0000-4000-8000-00000000000b';
const RULES = rulesOf(defaultPolicy(), true);
const OUTCOMES: readonly Outcome[] = ['pass', 'fail', 'not_applicable', 'unknown'];
const ZERO = { graphPages: 0, graphRequests: 0, armRequests: 0, throttled: 0 };
const FORMULA_NAME = '=HYPERLINK("evil.example","x")';

const accountId = (sub: string, name: string) => `/subscriptions/${sub}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/${name}`;

/** One account's findings, one per rule; the outcome cycles with the account and rule. */
function accountFindings(sub: string, i: number): Finding[] {
  const name = i === 0 ? FORMULA_NAME : `oai-${sub.slice(0, 2)}-${i}`;
  return RULES.map((rule, r) => ({
    ruleId: rule.id,
    resourceId: accountId(sub, name),
    outcome: OUTCOMES[(i + r) % OUTCOMES.length] ?? 'pass',
    code: 'generated',
    severity: rule.severity,
    message: `${rule.id} on ${name}: "quoted", commas, <b>markup</b>`,
    subscriptionId: sub,
    resourceGroup: 'rg-ai',
    accountName: name,
    kind: i % 2 === 0 ? 'OpenAI' : 'AIServices',
    location: 'eastus',
    tags: { env: 'prod', owner: '<script>x</script>' },
    evidence: { publicNetworkAccess: 'Enabled', index: i },
    ...(i === 1 && r === 0 ? { exemption: { name: 'keys', category: 'Mitigated' as const, justification: 'rotated daily' } } : {}),
  }));
}

/** A shard's findings: `accounts` accounts of `sub`, sorted by ID as a shard writes them. */
function shardFindings(sub: string, accounts: number): Finding[] {
  const all = Array.from({ length: accounts }, (_, i) => accountFindings(sub, i));
  return all.sort((a, b) => (a[0]?.resourceId ?? '').localeCompare(b[0]?.resourceId ?? '')).flat();
}

function plan(scanId: string): ScanPlan {
  const subscriptions = [SUB_A, SUB_B];
  return {
    schemaVersion: 2,
    scanId,
    startedAt: '2026-11-21T03:00:00.000Z',
    scope: { include: { subscriptions, managementGroups: [] }, resourceGroups: [], exclude: { subscriptions: [], managementGroups: [], resourceGroups: [] } },
    deepInspection: true,
    tenantWide: false,
    policy: describePolicy(defaultPolicy()),
    subscriptions: subscriptions.map((id) => ({ id, status: 'read' as const })),
    shards: subscriptions.map((id, index) => ({ index, subscriptions: [id] })),
    contextTables: [],
    queryPlan: [],
    requests: ZERO,
  };
}

/** How the commit used its parts: each finding source pass, and each byte copy (in order). */
interface Reads {
  findingPasses: number;
  /** Copies started, by part index, and of those, finished. */
  copies: number[];
  copied: number[];
  bytesCopied: number;
}

/** Writes each shard's findings file and wraps it as a part that counts how it is read. */
async function parts(dir: string, shards: readonly Finding[][], reads: Reads): Promise<PartToCommit[]> {
  const out: PartToCommit[] = [];
  for (const [index, findings] of shards.entries()) {
    const path = join(dir, `part-${index}.ndjson`);
    await writeFile(path, findings.map((f) => `${JSON.stringify(f)}\n`).join(''));
    const sub = index === 0 ? SUB_A : SUB_B;
    const accounts = new Set(findings.map((f) => f.resourceId)).size;
    out.push({
      part: { index, subscriptions: [{ id: sub, status: 'read' }], accounts, accountRows: accounts, problems: [], deepRead: 0, deepFailed: 0, unseenResourceGroups: [],
        accountQuery: { type: 'microsoft.cognitiveservices/accounts', rows: accounts, pages: 1, leastPages: 1 },
        peakAccountRows: accounts,
        requests: ZERO,
      },
      findings: () => {
        reads.findingPasses += 1;
        return fileFindings(path)();
      },
      copyFindings: async (to) => {
        reads.copies.push(index);
        reads.bytesCopied += (await readFile(path)).length;
        await copyFile(path, to);
        reads.copied.push(index);
      },
      states: async function* () {},
    });
  }
  // Given out of order: the commit reads them in shard order.
  return out.reverse();
}

interface Committed {
  scan: ScanDocument;
  reads: Reads;
  /** JSON.parse calls on a finding line during the commit (count). */
  parsedLines: number;
  file: (name: string) => Promise<string>;
}

interface CommitCase {
  dir: string;
  /** The commit's workDir: where its temporary files go. */
  work: string;
  scanId: string;
  shards: Finding[][];
  formats?: ReportFormat[];
  stores?: ScanStore[];
  /** Where to count the reads (to see them when the commit throws). */
  reads?: Reads;
  /** What the commit is given of the parts (shard order): e.g. promises that settle later, or parts read while made. */
  arriving?: (parts: PartToCommit[]) => Array<Promise<PartToCommit>> | ArrivingPart[];
  log?: (line: string) => void;
}

/** Parts given as promises: parts that arrive, read from their files once done (`copyWhileMade` has nothing). */
function arrivingParts(parts: Array<Promise<PartToCommit>> | ArrivingPart[]): ArrivingPart[] {
  return parts.map((p) => (p instanceof Promise ? { done: p, copyWhileMade: () => undefined } : p));
}

async function commit(o: CommitCase): Promise<Committed> {
  const reads: Reads = o.reads ?? { findingPasses: 0, copies: [], copied: [], bytesCopied: 0 };
  const given = await parts(await mkdtemp(join(tmpdir(), 'pa-parts-')), o.shards, reads);
  const parse = vi.spyOn(JSON, 'parse');
  try {
    const scan = await commitScan({
      plan: plan(o.scanId),
      parts: o.arriving ? arrivingParts(o.arriving(given.sort((a, b) => a.part.index - b.part.index))) : given,
      stores: o.stores ?? [new DirectoryStore(o.dir)],
      ...(o.formats ? { formats: o.formats } : {}),
      requests: ZERO,
      log: o.log ?? (() => {}),
      now: () => new Date('2026-11-21T03:05:00.000Z'),
      workDir: o.work,
    });
    const parsedLines = parse.mock.calls.filter(([text]) => typeof text === 'string' && text.startsWith('{"ruleId"')).length;
    return { scan, reads, parsedLines, file: (name) => readFile(join(o.dir, name), 'utf8') };
  } finally {
    parse.mockRestore();
  }
}

const count = (findings: readonly Finding[], pick: (f: Finding) => boolean) => findings.filter(pick).length;

describe('one pass over the findings feeds every report (issue 17)', () => {
  const fresh = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

  it('reads each part once, in shard order, parses each line once, and writes what the findings say in every format', async () => {
    const shards = [shardFindings(SUB_A, 5), shardFindings(SUB_B, 4)];
    const findings = shards.flat();
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    const c = await commit({ dir, work, scanId: '2026-11-21T03-00-00Z-onepa1', shards });

    // One pass: each part's bytes copied once, in shard order; the parsed source never iterated;
    // each finding line parsed once (not once per consumer).
    assert.deepEqual(c.reads.copies, [0, 1]);
    assert.equal(c.reads.findingPasses, 0);
    assert.equal(c.parsedLines, findings.length);
    assert.deepEqual(await readdir(work), [], 'the temporary files are gone');

    // findings.ndjson: the parts' bytes, in shard order.
    const ndjson = shards.flat().map((f) => `${JSON.stringify(f)}\n`).join('');
    assert.equal(await c.file('findings.ndjson'), ndjson);
    assert.equal(c.reads.bytesCopied, Buffer.byteLength(ndjson));

    // scan.json's summary counts the findings.
    for (const o of OUTCOMES) assert.equal(c.scan.summary.byOutcome[o], count(findings, (f) => f.outcome === o), o);
    assert.equal(c.scan.summary.exempted.failsByRule[RULES[0]?.id ?? ''], 2, 'one exempted fail per shard');
    assert.equal(c.scan.coverage.accounts, 9);

    // CSV: the header, then one row per finding in order, each cell from the finding.
    const rows = parse(await c.file('report.csv')) as string[][];
    assert.deepEqual(rows[0], [...CSV_COLUMNS]);
    assert.deepEqual(
      rows.slice(1),
      findings.map((f) => [
        f.subscriptionId,
        f.resourceGroup,
        f.accountName === FORMULA_NAME ? `'${FORMULA_NAME}` : f.accountName,
        f.kind ?? '',
        f.location,
        f.ruleId,
        f.severity,
        f.outcome,
        f.message,
        'env=prod; owner=<script>x</script>',
        f.resourceId,
        JSON.stringify(f.evidence),
        f.exemption ? 'Mitigated: keys' : '',
        f.outcome === 'fail' ? remediationFor(f, RULES.find((r) => r.id === f.ruleId) ?? assert.fail(f.ruleId)).az : '',
      ]),
    );

    // SARIF: valid; one result per fail and unknown, in order; the run's end is the scan's.
    type Location = { logicalLocations: Array<{ fullyQualifiedName: string }> };
    type Result = { ruleId: string; level: string; properties: { outcome: string }; locations: Location[] };
    const sarif = JSON.parse(await c.file('report.sarif')) as {
      runs: Array<{
        results: Result[];
        invocations: Array<{ endTimeUtc: string; properties: { accounts: number } }>;
        tool: { driver: { rules: unknown[] } };
      }>;
    };
    const validate = new Ajv({ allErrors: true, strict: false });
    addFormats.default(validate);
    const check = validate.compile(JSON.parse(await readFile(join(FIXTURES, 'sarif-2.1.0-subset.schema.json'), 'utf8')));
    assert.ok(check(sarif), validate.errorsText(check.errors));
    const run = sarif.runs[0];
    assert.ok(run);
    const levels = { high: 'error', medium: 'warning', low: 'note' } as const;
    assert.deepEqual(
      run.results.map((r) => [r.ruleId, r.properties.outcome, r.level, r.locations[0]?.logicalLocations[0]?.fullyQualifiedName]),
      findings.filter((f) => f.outcome === 'fail' || f.outcome === 'unknown').map((f) => [f.ruleId, f.outcome, f.outcome === 'fail' ? levels[f.severity] : 'note', f.resourceId]),
    );
    assert.equal(run.invocations[0]?.endTimeUtc, c.scan.finishedAt);
    assert.equal(run.invocations[0]?.properties.accounts, 9);
    assert.equal(run.tool.driver.rules.length, RULES.length);

    // JSON summary: counts by outcome, rule and subscription, and the accounts' states.
    const summary = JSON.parse(await c.file('report.json')) as ReportSummary;
    const accounts = [...new Set(findings.map((f) => f.resourceId))];
    const has = (id: string, o: Outcome) => findings.some((f) => f.resourceId === id && f.outcome === o);
    assert.deepEqual(summary.accounts, {
      total: 9,
      compliant: accounts.filter((id) => !has(id, 'fail') && !has(id, 'unknown')).length,
      withFail: accounts.filter((id) => has(id, 'fail')).length,
      withUnknown: accounts.filter((id) => has(id, 'unknown')).length,
      compliantPercent: summary.accounts.compliantPercent,
    });
    for (const rule of RULES) {
      for (const o of OUTCOMES) assert.equal(summary.byRule[rule.id]?.[o], count(findings, (f) => f.ruleId === rule.id && f.outcome === o), `${rule.id} ${o}`);
    }
    assert.equal(summary.bySubscription[SUB_A]?.accounts, 5);
    assert.equal(summary.bySubscription[SUB_B]?.fail, count(findings, (f) => f.subscriptionId === SUB_B && f.outcome === 'fail'));

    // HTML: the by-rule table holds the same counts; every account is shown, its text escaped.
    const html = await c.file('report.html');
    for (const rule of RULES) {
      const row = html.match(new RegExp(`<tr><td><strong>${rule.id}</strong>.*?</tr>`))?.[0] ?? '';
      const cells = [...row.matchAll(/<td class="num o-(\w+)">(\d+)<\/td>/g)].map((m) => [m[1], Number(m[2])]);
      assert.deepEqual(cells, (['fail', 'unknown', 'pass', 'not_applicable'] as const).map((o) => [o, summary.byRule[rule.id]?.[o]]), rule.id);
    }
    assert.equal([...html.matchAll(/<details class="account"/g)].length, 9);
    assert.ok(!html.includes('<script>x</script>') && !html.includes('<b>markup</b>'));
  });

  it('the next commit reads its parts once too and shows what changed since the previous scan; `report` renders the same bytes', async () => {
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    const first = [shardFindings(SUB_A, 4), shardFindings(SUB_B, 3)];
    await commit({ dir, work, scanId: '2026-11-21T03-00-00Z-onepa2', shards: first });
    const previousDir = await fresh('pa-prev-');
    await cp(dir, previousDir, { recursive: true });

    // Now: one pass → fail and one fail → pass (both in SUB_A), and SUB_B's last account gone.
    const now = first.map((s) => s.map((f) => ({ ...f })));
    const [a, b] = now;
    assert.ok(a && b);
    const regress = a.findIndex((f) => f.outcome === 'pass' && !f.exemption);
    const resolve = a.findIndex((f) => f.outcome === 'fail' && !f.exemption);
    a[regress] = { ...(a[regress] as Finding), outcome: 'fail' };
    a[resolve] = { ...(a[resolve] as Finding), outcome: 'pass' };
    const gone = b.at(-1)?.resourceId;
    const kept = b.filter((f) => f.resourceId !== gone);
    const goneFails = count(b, (f) => f.resourceId === gone && f.outcome === 'fail');
    assert.ok(goneFails > 0, 'the account that goes had fails');
    const c = await commit({ dir, work, scanId: '2026-11-21T03-00-00Z-onepa3', shards: [a, kept] });

    assert.deepEqual(c.reads.copies, [0, 1]);
    assert.equal(c.reads.findingPasses, 0);
    assert.equal(c.parsedLines, first.flat().length + a.length + kept.length, 'the previous scan\'s lines once (its fails, for the diff), then each line of the parts once');
    assert.deepEqual(await readdir(work), []);

    const html = await c.file('report.html');
    assert.match(html, /New since previous scan: 1</);
    assert.match(html, new RegExp(`Resolved since previous scan: ${1 + goneFails}<`));

    // `perimeter-auditor report` runs the same writer: the same bytes for every format.
    const again = await fresh('pa-again-');
    await rerenderReports({ scanDir: dir, previousDir, formats: ['json', 'csv', 'sarif', 'html'], outDir: again });
    for (const name of ['report.json', 'report.csv', 'report.sarif', 'report.html']) assert.equal(await readFile(join(again, name), 'utf8'), await c.file(name), name);
  });

  it('writes only the formats asked for, the same bytes as with all of them', async () => {
    const shards = [shardFindings(SUB_A, 3), shardFindings(SUB_B, 2)];
    const [all, some, work] = [await fresh('pa-all-'), await fresh('pa-some-'), await fresh('pa-work-')];
    await commit({ dir: all, work, scanId: '2026-11-21T03-00-00Z-onepa4', shards });
    const c = await commit({ dir: some, work, scanId: '2026-11-21T03-00-00Z-onepa4', shards, formats: ['sarif', 'csv'] });
    assert.deepEqual((await readdir(some)).sort(), ['findings.ndjson', 'history.json', 'report.csv', 'report.sarif', 'scan.json']);
    assert.deepEqual(c.reads.copies, [0, 1]);
    for (const name of ['findings.ndjson', 'report.csv', 'report.sarif']) assert.equal(await c.file(name), await readFile(join(all, name), 'utf8'), name);
    assert.deepEqual(await readdir(work), []);
  });

  it('a bad line or a failing store commits nothing, keeps the previous scan current and removes the temporary files', async () => {
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    const shards = [shardFindings(SUB_A, 3), shardFindings(SUB_B, 3)];
    const previous = await commit({ dir, work, scanId: '2026-11-21T03-00-00Z-onepa5', shards });
    const before = await previous.file('scan.json');

    // A line that is not a finding early in a second part of several MiB (many chunks): named, the
    // copy stops (no wait on a stream that will not drain), and nothing of this scan is written.
    const bad = [shards[0] ?? [], shardFindings(SUB_B, 400)];
    bad[1]?.splice(2, 1, { not: 'a finding' } as unknown as Finding);
    const reads: Reads = { findingPasses: 0, copies: [], copied: [], bytesCopied: 0 };
    await assert.rejects(commit({ dir, work, scanId: '2026-11-21T03-00-00Z-onepa6', shards: bad, reads }), (e: Error) => e instanceof FindingsFormatError && /line 3 is not a finding/.test(e.message));
    assert.deepEqual([reads.copies, reads.copied], [[0, 1], [0]], 'the second part\'s copy was stopped');
    assert.equal(await readFile(join(dir, 'scan.json'), 'utf8'), before);
    assert.deepEqual(await readdir(work), []);

    // A store that fails after the first artifact: the directory store before it committed, it did not.
    let written = 0;
    const failing: ScanStore = {
      location: 'failing',
      current: async () => undefined,
      save: async (_scan, artifacts) => {
        const first = artifacts[0];
        assert.ok(first);
        await first.write(new PassThrough().resume());
        written += 1;
        throw new Error('storage is down');
      },
    };
    await assert.rejects(commit({ dir, work, scanId: '2026-11-21T03-00-00Z-onepa7', shards, stores: [failing] }), /storage is down/);
    assert.equal(written, 1);
    assert.equal(await readFile(join(dir, 'scan.json'), 'utf8'), before);
    assert.deepEqual(await readdir(work), []);
  });
});

describe('a commit reads parts as their shards finish (issue 17)', () => {
  const fresh = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

  it('hands each part to the pass as soon as it and those before it are done, and writes them in shard order', { timeout: 60_000 }, async () => {
    const shards = [shardFindings(SUB_A, 3), shardFindings(SUB_B, 3)];
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    // Shard 1 finishes only once shard 0's findings went to the pass: a commit that waited for
    // every shard before reading would never finish (the test would time out).
    let handed!: () => void;
    const partZeroHanded = new Promise<void>((resolve) => (handed = resolve));
    const c = await commit({
      dir, work, scanId: '2026-11-21T03-00-00Z-arriv1', shards,
      arriving: ([zero, one]) => {
        assert.ok(zero && one);
        const watched: PartToCommit = {
          ...zero,
          copyFindings: async (out) => {
            handed();
            await zero.copyFindings(out);
          },
        };
        return [Promise.resolve(watched), partZeroHanded.then(() => one)];
      },
    });
    assert.equal(c.scan.coverage.accounts, 6);
    assert.deepEqual(c.reads.copies, [0, 1]);
    assert.equal(await c.file('findings.ndjson'), shards.flat().map((f) => `${JSON.stringify(f)}\n`).join(''), 'shard order');
    assert.deepEqual(await readdir(work), [], 'the temporary files are gone');
  });

  it('a shard that fails after others were read commits nothing and removes the temporary files', async () => {
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    const shards = [shardFindings(SUB_A, 3), shardFindings(SUB_B, 3)];
    const previous = await commit({ dir, work, scanId: '2026-11-21T03-00-00Z-arriv2', shards });
    const before = await previous.file('scan.json');
    const reads: Reads = { findingPasses: 0, copies: [], copied: [], bytesCopied: 0 };
    const failed = commit({
      dir, work, scanId: '2026-11-21T03-00-00Z-arriv3', shards, reads,
      arriving: ([zero]) => [Promise.resolve(zero as PartToCommit), Promise.reject(new Error('shard 1: no space left on device'))],
    });
    await assert.rejects(failed, /shard 1: no space left on device/);
    assert.deepEqual(reads.copied, [0], 'shard 0 was read before shard 1 failed');
    assert.equal(await readFile(join(dir, 'scan.json'), 'utf8'), before);
    assert.deepEqual(await readdir(work), []);
  });

  it('reads a part while its shard makes it: the pass does not wait for the part to be done', { timeout: 60_000 }, async () => {
    const shards = [shardFindings(SUB_A, 3), shardFindings(SUB_B, 3)];
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    const c = await commit({
      dir, work, scanId: '2026-11-21T03-00-00Z-arriv6', shards,
      arriving: ([zero, one]) => {
        assert.ok(zero && one);
        // Shard 0 is done only once its findings went to the pass as it made them: a commit that
        // waited for the part before reading would never finish (the test would time out).
        let done!: (p: PartToCommit) => void;
        const zeroDone = new Promise<PartToCommit>((resolve) => (done = resolve));
        const whileMade = async (out: Writable) => {
          for (const f of shards[0] ?? []) await writeChunk(out, `${JSON.stringify(f)}\n`);
          done(zero);
        };
        return [
          { done: zeroDone, copyWhileMade: whileMade },
          { done: Promise.resolve(one), copyWhileMade: () => undefined },
        ];
      },
    });
    assert.equal(c.scan.coverage.accounts, 6);
    assert.deepEqual(c.reads.copies, [1], 'shard 0 read as it was made, shard 1 (already done) from its file');
    assert.equal(await c.file('findings.ndjson'), shards.flat().map((f) => `${JSON.stringify(f)}\n`).join(''), 'shard order');
    assert.deepEqual(await readdir(work), []);
  });

  it('a pass that read findings its shard then discarded (a batch whose read failed) starts again from the finished parts', async () => {
    const shards = [shardFindings(SUB_A, 3), shardFindings(SUB_B, 3)];
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    const logs: string[] = [];
    const stray = shardFindings(SUB_B, 1)[0];
    assert.ok(stray);
    const c = await commit({
      dir, work, scanId: '2026-11-21T03-00-00Z-arriv7', shards, log: (l) => logs.push(l),
      arriving: ([zero, one]) => {
        assert.ok(zero && one);
        return [
          {
            done: Promise.resolve(zero),
            copyWhileMade: async (out: Writable) => {
              // A batch's first page, read by the pass, then the batch discarded.
              await writeChunk(out, `${JSON.stringify({ ...stray, accountName: 'discarded' })}\n`);
              throw new RestartPass('a batch of the shard was discarded after the pass read part of it');
            },
          },
          { done: Promise.resolve(one), copyWhileMade: () => undefined },
        ];
      },
    });
    assert.equal(await c.file('findings.ndjson'), shards.flat().map((f) => `${JSON.stringify(f)}\n`).join(''), 'only the parts\' findings');
    assert.ok(!(await c.file('report.csv')).includes('discarded'), 'no report has the discarded finding');
    const counted = OUTCOMES.reduce((n, o) => n + c.scan.summary.byOutcome[o], 0);
    assert.equal(counted, shards.flat().length, 'the summary counts the parts\' findings alone');
    assert.deepEqual(c.reads.copies, [0, 1], 'the second pass read both parts from their files');
    assert.ok(logs.some((l) => /the report pass starts again from the shards' files: a batch of the shard was discarded/.test(l)), logs.join('\n'));
    assert.deepEqual(await readdir(work), [], 'the first pass\'s files are gone too');
  });

  it('`report` refuses a findings file whose findings are not grouped by account (the counts would be wrong)', async () => {
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    await commit({ dir, work, scanId: '2026-11-21T03-00-00Z-arriv5', shards: [shardFindings(SUB_A, 3), shardFindings(SUB_B, 2)] });
    const lines = (await readFile(join(dir, 'findings.ndjson'), 'utf8')).split('\n').filter(Boolean);
    // The same lines, one moved into the next account's run: as many lines, not grouped.
    const [moved] = lines.splice(0, 1);
    lines.splice(RULES.length, 0, moved ?? '');
    await writeFile(join(dir, 'findings.ndjson'), `${lines.join('\n')}\n`);
    const out = await fresh('pa-out-');
    await assert.rejects(rerenderReports({ scanDir: dir, formats: ['json', 'html'], outDir: out }), /holds 7 run\(s\) of one account's findings, but scan.json says 5 account\(s\): its findings are not grouped by account/);
    assert.deepEqual(await readdir(out), [], 'nothing written');
  });

  it('parts that arrive and read no subscription: refused once they are all read, nothing written', async () => {
    const [dir, work] = [await fresh('pa-one-'), await fresh('pa-work-')];
    const unread = (p: PartToCommit): PartToCommit => ({
      ...p,
      part: { ...p.part, accounts: 0, subscriptions: p.part.subscriptions.map((s) => ({ ...s, status: 'unreadable' as const, reason: '403 AuthorizationFailed' })) },
    });
    await assert.rejects(
      commit({ dir, work, scanId: '2026-11-21T03-00-00Z-arriv4', shards: [[], []], arriving: (ps) => ps.map((p) => Promise.resolve(unread(p))) }),
      /no subscription could be read: 0 of 2/,
    );
    assert.deepEqual(await readdir(dir), []);
    assert.deepEqual(await readdir(work), []);
  });
});
