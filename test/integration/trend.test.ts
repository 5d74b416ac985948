import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'vitest';
import { type HtmlOptions, writeHtml } from '../../src/reports/html.js';
import type { Severity } from '../../src/domain/rule.js';
import { HISTORY_FILE } from '../../src/store/stores.js';
import { TREND_LIMIT, type TrendPoint, trendOf, trendPoint } from '../../src/reports/trend.js';
import type { SimulatorTenant } from '../../src/simulator/server.js';
import type { Artifact } from '../../src/store/artifact.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { BlobStore, DirectoryStore } from '../../src/store/stores.js';
import { useAzurite } from '../helpers/azurite.js';
import { sampleTenant, scanSimulator, SUB_DEV, withSimulator } from '../helpers/sample.js';

/**
 * The trend (issue 19): one series builder over the committed scans' `scan.json` summaries, the
 * stores' histories (Blob: the scans under `latest.json`; a directory: its `history.json`), and the
 * commit handing the HTML page the trend with the scan being committed.
 */

interface Figures {
  readonly accounts?: number;
  readonly compliant?: number;
  readonly fails?: Partial<Record<Severity, number>>;
  readonly exempted?: Partial<Record<Severity, number>>;
  readonly unknown?: number;
  readonly unreadable?: number;
}

/** A scan.json with the given figures: `accounts` read in two subscriptions (plus `unreadable` ones). */
function scanDoc(scanId: string, o: Figures = {}): ScanDocument {
  const zero = () => ({ pass: 0, fail: 0, not_applicable: 0, unknown: 0 });
  const bySeverity = { high: zero(), medium: zero(), low: zero() };
  for (const s of ['high', 'medium', 'low'] as const) bySeverity[s].fail = o.fails?.[s] ?? 0;
  const fails = bySeverity.high.fail + bySeverity.medium.fail + bySeverity.low.fail;
  const accounts = o.accounts ?? 10;
  const unreadable = o.unreadable ?? 0;
  const stamp = scanId.slice(0, 19).replace(/T(\d{2})-(\d{2})-(\d{2})/, 'T$1:$2:$3');
  return {
    schemaVersion: 1,
    scanId,
    startedAt: `${stamp}.000Z`,
    finishedAt: `${stamp}.500Z`,
    status: unreadable > 0 ? 'partial' : 'complete',
    scope: { subscriptions: [], managementGroups: [], deepInspection: true },
    coverage: {
      subscriptions: [
        { id: 'a', status: 'read' },
        { id: 'b', status: 'read' },
        ...Array.from({ length: unreadable }, (_, i) => ({ id: `x${i}`, status: 'unreadable' as const, reason: '403' })),
      ],
      accounts,
      tables: [],
      deepInspection: { accounts, failed: 0 },
      problems: [],
    },
    rules: [],
    summary: {
      byOutcome: { pass: 0, fail: fails, not_applicable: 0, unknown: o.unknown ?? 0 },
      bySeverity,
      byRule: {},
      exempted: {
        byOutcome: zero(),
        failsBySeverity: { high: o.exempted?.high ?? 0, medium: o.exempted?.medium ?? 0, low: o.exempted?.low ?? 0 },
        failsByRule: {},
      },
      expiredExemptions: 0,
      accounts: { evaluated: accounts, compliant: o.compliant ?? 0, withFail: 0, withUnknown: 0 },
    },
    stats: { durationMs: 500, resourceGraphPages: 0, resourceGraphRequests: 0, armRequests: 0, throttledResponses: 0 },
  };
}

/** The scan ID of hour `n` from 2026-11-01T00:00Z: later hours sort later. */
const idOf = (n: number) => `2026-11-${String(Math.floor(n / 24) + 1).padStart(2, '0')}T${String(n % 24).padStart(2, '0')}-00-00Z-trend${String.fromCharCode(97 + (n % 26))}`;

const findingsText: Artifact[] = [{ name: 'findings.ndjson', contentType: 'application/x-ndjson', write: async (out) => void out.write('') }];

describe('trend series (reports/trend.ts)', () => {
  it('one point per scan, oldest first, from the summary: exempted fails excluded, coverage carried, no percentage over nothing', () => {
    const scans = [
      scanDoc(idOf(2), { accounts: 8, compliant: 6, fails: { high: 3, medium: 1 }, exempted: { high: 1 }, unknown: 4 }),
      scanDoc(idOf(0), { accounts: 10, compliant: 5, fails: { high: 5, low: 2 }, unknown: 1, unreadable: 1 }),
      scanDoc(idOf(1), { accounts: 0 }),
      scanDoc(idOf(3), { accounts: 16, compliant: 16 }),
    ];
    const trend = trendOf(scans);
    assert.deepEqual(trend.map((p) => p.scanId), [idOf(0), idOf(1), idOf(2), idOf(3)]);
    const [partial, none, exempted, all] = trend;
    assert.ok(partial && none && exempted && all);
    assert.deepEqual(partial, {
      scanId: idOf(0),
      finishedAt: scans[1]?.finishedAt,
      status: 'partial',
      compliantPercent: 50,
      headline: '50% compliant (5 of 10 accounts read)',
      accountsRead: 10,
      fails: { high: 5, medium: 0, low: 2 },
      unknowns: 1,
      coverage: {
        subscriptions: { inScope: 3, read: 2, unreadable: 1 },
        tablesNotRead: 0,
        deepReadsFailed: 0,
        problems: 0,
        text: '10 accounts read in 2 of 3 subscriptions in scope; 1 subscription unreadable (its accounts are not counted)',
      },
    });
    assert.equal(none.compliantPercent, null, 'nothing read: no percentage');
    assert.equal(none.headline, 'No AI accounts in scope');
    assert.deepEqual(exempted.fails, { high: 2, medium: 1, low: 0 }, 'the exempted high fail is not counted');
    assert.equal(exempted.compliantPercent, 75);
    assert.equal(all.compliantPercent, 100);

    // A point and the scan it was made of are the same entry: the later one wins, each scan once.
    assert.deepEqual(trendOf([...trend, scans[0] as ScanDocument]), trend);
    assert.deepEqual(trendOf([trendPoint(scanDoc(idOf(3), { accounts: 2, compliant: 1 })), scans[3] as ScanDocument]).map((p) => p.compliantPercent), [100]);

    // The newest `limit` scans are kept, TREND_LIMIT by default.
    const many = Array.from({ length: TREND_LIMIT + 5 }, (_, i) => scanDoc(idOf(i)));
    const capped = trendOf(many.toReversed());
    assert.equal(capped.length, TREND_LIMIT);
    assert.deepEqual(capped.map((p) => p.scanId), many.slice(5).map((s) => s.scanId));
    assert.deepEqual(trendOf(many, 3).map((p) => p.scanId), many.slice(-3).map((s) => s.scanId));
  });

  it('a scan.json from before the compliant count has words, not a percentage', () => {
    const old = scanDoc(idOf(0), { accounts: 4 });
    const { accounts: _, ...summary } = old.summary;
    const point = trendPoint({ ...old, summary });
    assert.equal(point.compliantPercent, null);
    assert.equal(point.accountsRead, 4);
    assert.match(point.headline, /compliance not recorded/);
  });
});

/** The HTML page of `scan` (no findings) with `options`. */
async function page(scan: ScanDocument, options: HtmlOptions): Promise<string> {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  await writeHtml(scan, async function* () {}, out, options);
  return text;
}

const trendSectionOf = (html: string) => /<section id="trend">[\s\S]*?<\/section>/.exec(html)?.[0];

describe('the HTML trend section', () => {
  it('says so below two scans, marks a scan that read nothing "n/a" (no percentage), and is absent without a history', async () => {
    const scan = scanDoc(idOf(5), { accounts: 10, compliant: 5, fails: { high: 2 } });
    const alone = trendSectionOf(await page(scan, { history: [] }));
    assert.ok(alone);
    assert.match(alone, /holds only this scan so far/);
    assert.doesNotMatch(alone, /<svg/);

    const nothingRead = trendPoint(scanDoc(idOf(4), { accounts: 0 }));
    const two = trendSectionOf(await page(scan, { history: [nothingRead] }));
    assert.ok(two);
    assert.equal(two.match(/<g class="trend-scan"/g)?.length, 2);
    assert.equal(two.match(/<circle class="marker"/g)?.length, 1, 'a marker only for the scan that read accounts');
    assert.equal(two.match(/<text class="marker no-data"[^>]*>n\/a</g)?.length, 1);
    assert.match(two, new RegExp(`<tr data-scan-id="${idOf(4)}">.*<td class="num">— <small>No AI accounts in scope</small></td><td class="num">0</td>`));
    assert.match(two, new RegExp(`<tr data-scan-id="${idOf(5)}">.*<td class="num">50%</td><td class="num">10</td><td class="num">2</td>`));
    assert.doesNotMatch(two, /class="note"/, 'no partial scan, no note');

    assert.equal(trendSectionOf(await page(scan, {})), undefined, 'a page given no history has no trend');
  });
});

describe('Blob history (Azurite)', () => {
  const azurite = useAzurite();

  it('lists committed scans only, oldest first: not a scan newer than latest.json, a refused commit, or a folder without scan.json', async () => {
    const container = azurite.container('trend-committed');
    const store = new BlobStore(container);
    assert.deepEqual(await store.history(), [], 'nothing committed: no container yet');
    for (const n of [3, 1, 2]) await store.save(scanDoc(idOf(n), { accounts: n, compliant: 1 }), findingsText);
    // Stored in the order 3, 1, 2: latest.json is on scan 2, so scan 3's scan.json is newer than the commit point.
    assert.equal((await store.latest())?.scanId, idOf(2));
    assert.deepEqual((await store.history()).map((p) => p.scanId), [idOf(1), idOf(2)]);

    // A commit refused by the service (a lease on latest.json): its scan.json is there, it is not committed.
    const lease = container.getBlobClient('latest.json').getBlobLeaseClient();
    await lease.acquireLease(-1);
    await assert.rejects(store.save(scanDoc(idOf(4)), findingsText), /lease/i);
    await lease.releaseLease();
    assert.ok(await container.getBlobClient(`scans/${idOf(4)}/scan.json`).exists());
    // An older scan that never wrote its scan.json (it died uploading its reports).
    await container.getBlockBlobClient(`scans/${idOf(0)}/findings.ndjson`).upload('', 0);
    const history = await store.history();
    assert.deepEqual(history.map((p) => p.scanId), [idOf(1), idOf(2)]);
    assert.deepEqual(history.map((p) => p.accountsRead), [1, 2], 'the figures are each scan.json\'s');

    // The next commit moves latest.json past them: scan 5 joins, and scan 3 (committed before latest.json moved
    // back to 1 and 2) is below it again. Scan 4, whose commit was refused, is below it too but has no commit
    // record (commits/{scanId}.json), so it stays out.
    await store.save(scanDoc(idOf(5)), findingsText);
    assert.deepEqual((await store.history()).map((p) => p.scanId), [idOf(1), idOf(2), idOf(3), idOf(5)]);
    assert.deepEqual((await store.history(2)).map((p) => p.scanId), [idOf(3), idOf(5)]);
  });

  it('reads the newest 30 committed scans, and only their scan.json', async () => {
    const container = azurite.container('trend-cap');
    const store = new BlobStore(container);
    const ids = Array.from({ length: TREND_LIMIT + 3 }, (_, i) => idOf(i));
    for (const id of ids) await store.save(scanDoc(id), findingsText);
    // A findings.ndjson that is not JSON would fail any read of the findings: the trend never opens one.
    await container.getBlockBlobClient(`scans/${ids[10]}/findings.ndjson`).upload('not json', 8);
    const history = await store.history();
    assert.equal(history.length, TREND_LIMIT);
    assert.deepEqual(history.map((p) => p.scanId), ids.slice(3));
  });
});

describe('directory history', () => {
  it('history.json keeps the last 30 scans saved, oldest first; a save that did not finish and a directory without history', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-trend-dir-'));
    const store = new DirectoryStore(dir);
    assert.deepEqual(await store.history(), [], 'no scan yet');
    const ids = Array.from({ length: TREND_LIMIT + 2 }, (_, i) => idOf(i));
    for (const id of ids) await store.save(scanDoc(id), findingsText);
    const file = JSON.parse(await readFile(join(dir, HISTORY_FILE), 'utf8')) as { schemaVersion: number; scans: TrendPoint[] };
    assert.equal(file.schemaVersion, 1);
    assert.deepEqual(file.scans.map((p) => p.scanId), ids.slice(2));
    assert.deepEqual(await store.history(), file.scans);
    assert.deepEqual((await store.history(5)).map((p) => p.scanId), ids.slice(-5));

    // history.json is renamed into place before scan.json: an entry newer than scan.json is a save that did not finish.
    const unfinished = trendPoint(scanDoc(idOf(40)));
    await writeFile(join(dir, HISTORY_FILE), JSON.stringify({ schemaVersion: 1, scans: [...file.scans, unfinished] }));
    assert.equal((await store.history()).at(-1)?.scanId, ids.at(-1));

    // A directory written before history.json existed: its trend starts with its scan.json.
    const old = await mkdtemp(join(tmpdir(), 'pa-trend-old-'));
    await writeFile(join(old, 'scan.json'), JSON.stringify(scanDoc(idOf(7), { accounts: 3, compliant: 3 })));
    assert.deepEqual((await new DirectoryStore(old).history()).map((p) => [p.scanId, p.compliantPercent]), [[idOf(7), 100]]);
  });

  it('a history.json that is not one is named when read, and a save starts a new one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-trend-bad-'));
    const store = new DirectoryStore(dir);
    await store.save(scanDoc(idOf(0)), findingsText);
    await writeFile(join(dir, HISTORY_FILE), JSON.stringify({ schemaVersion: 1, scans: [{ scanId: idOf(0), compliantPercent: 'all' }] }));
    await assert.rejects(store.history(), /history\.json: scans\[0\] is not a trend point/);
    await writeFile(join(dir, HISTORY_FILE), '{"schemaVersion": 1, "scans": [');
    await assert.rejects(store.history(), /history\.json is not JSON/);
    await store.save(scanDoc(idOf(1)), findingsText);
    assert.deepEqual((await store.history()).map((p) => p.scanId), [idOf(1)]);
  });
});

/** The sample tenant, changed: `forbidden` subscriptions unreadable, and the accounts named in `drop` gone. */
async function tenant(o: { forbidden: string[]; drop?: (name: string, subscriptionId: string) => boolean }): Promise<SimulatorTenant> {
  const t = await sampleTenant();
  const drop = o.drop ?? (() => false);
  return { ...t, forbiddenSubscriptions: o.forbidden, resources: t.resources.filter((r) => !drop(String(r.name), String(r.subscriptionId))) };
}

describe('the commit draws the trend', () => {
  const azurite = useAzurite();

  it('three scans of a changing tenant into one directory and one container: the HTML trend, history.json and the API series agree', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-trend-commit-'));
    const blob = new BlobStore(azurite.container('trend-commit'));
    const sample = await sampleTenant();
    const tenants = [
      sample,
      await tenant({ forbidden: [] }),
      await tenant({ forbidden: sample.forbiddenSubscriptions, drop: (name, sub) => sub === SUB_DEV && name.startsWith('oai-') }),
    ];
    const scans: ScanDocument[] = [];
    for (const [i, t] of tenants.entries()) {
      // Scan IDs have one-second resolution: each scan gets its own second on a fixed clock.
      const at = new Date(Date.UTC(2026, 10, 21, 3, 0, i));
      const { scan } = await withSimulator({ tenant: t }, (sim) => scanSimulator(sim, { stores: [new DirectoryStore(dir), blob], now: () => at, formats: ['html'] }));
      scans.push(scan);
    }
    const expected = trendOf(scans);
    assert.deepEqual(expected.map((p) => p.scanId), scans.map((s) => s.scanId));
    assert.deepEqual(expected.map((p) => p.status), ['partial', 'complete', 'partial']);
    assert.deepEqual(expected.map((p) => p.accountsRead), [19, 20, 15]);
    assert.deepEqual(await new DirectoryStore(dir).history(), expected);
    assert.deepEqual(await blob.history(), expected);

    const html = await readFile(join(dir, 'report.html'), 'utf8');
    const section = /<section id="trend">[\s\S]*?<\/section>/.exec(html)?.[0] ?? '';
    assert.ok(section, 'the page has a trend section');
    assert.ok(html.indexOf('<section id="trend">') < html.indexOf('<section id="chart">'), 'near the top, before the outcomes by rule');
    assert.equal(section.match(/<g class="trend-scan"/g)?.length, 3);
    assert.equal(section.match(/<circle class="marker"/g)?.length, 3);
    for (const p of expected) {
      const row = new RegExp(`<tr data-scan-id="${p.scanId}"><td><code>${p.scanId}</code></td><td>${p.finishedAt}</td><td>${p.status}</td><td class="num">${p.compliantPercent}%</td><td class="num">${p.accountsRead}</td><td class="num">${p.fails.high}</td><td class="num">${p.fails.medium}</td><td class="num">${p.fails.low}</td><td class="num">${p.unknowns}</td>`);
      assert.match(section, row);
    }
    assert.match(section, /2 of these 3 scans are partial/);

    // The Blob copy of the last report is the same page.
    const stored = (await azurite.container('trend-commit').getBlobClient(`scans/${scans[2]?.scanId}/report.html`).downloadToBuffer()).toString('utf8');
    assert.equal(stored, html);
  });
});
