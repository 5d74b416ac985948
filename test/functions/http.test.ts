import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { text as readText } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, it } from 'vitest';
import functions, { type HttpResponseInit } from '@azure/functions';
import { reports } from '../../functions/reports.js';
import { rules } from '../../functions/rules.js';
import { scanRequested } from '../../functions/scanRequested.js';
import { scanRequests, scans } from '../../functions/scans.js';
import { scanTrend } from '../../functions/scanTrend.js';
import type { TrendResponse } from '../../src/api/scansApi.js';
import { BlobStore } from '../../src/store/stores.js';
import { invokeFunction } from '../helpers/invoke.js';
import { scanSimulator, withSimulator } from '../helpers/sample.js';
import { useAzurite } from '../helpers/azurite.js';

// @azure/functions is CommonJS; its classes are on the default export under ESM.
const { HttpRequest, InvocationContext } = functions;

function context(name: string): InstanceType<typeof InvocationContext> {
  return new InvocationContext({ invocationId: `test-${name}`, functionName: name, logHandler: () => undefined });
}

function get(url: string, params: Record<string, string> = {}) {
  return new HttpRequest({ method: 'GET', url: `http://localhost:7071${url}`, params });
}

async function bodyText(r: HttpResponseInit): Promise<string> {
  if (typeof r.body === 'string') return r.body;
  return readText(r.body as Readable);
}

function header(r: HttpResponseInit, name: string): string | undefined {
  return (r.headers as Record<string, string> | undefined)?.[name];
}

describe('reports API (HTTP handlers over Azurite)', () => {
  const azurite = useAzurite();
  let scanIds: string[] = [];
  const container = 'api';

  beforeAll(async () => {
    process.env.AUDIT_STORAGE_CONNECTION_STRING = azurite.connectionString;
    process.env.AUDIT_CONTAINER = container;
    const store = new BlobStore(azurite.container(container));
    await withSimulator({}, async (sim) => {
      for (let i = 0; i < 3; i++) {
        // Scan IDs have one-second resolution: each scan gets its own second on a fixed clock.
        const at = new Date(Date.UTC(2026, 10, 21, 3, 0, i));
        const { scan } = await scanSimulator(sim, { stores: [store], now: () => at });
        scanIds.push(scan.scanId);
      }
    });
    scanIds = scanIds.sort().reverse();
  });

  afterAll(async () => {
    delete process.env.AUDIT_STORAGE_CONNECTION_STRING;
    delete process.env.AUDIT_CONTAINER;
  });

  it('GET /api/scans lists scans newest first, in pages', async () => {
    const first = await scans(get('/api/scans?limit=2'), context('scans'));
    assert.equal(first.status, 200);
    type Item = { scanId: string; accounts: number; headline: string; coverage: string; reports: Record<string, string> };
    type Page = { latest: string; scans: Item[]; next?: string };
    const page = JSON.parse(await bodyText(first)) as Page;
    assert.deepEqual(page.scans.map((s) => s.scanId), scanIds.slice(0, 2));
    assert.equal(page.latest, scanIds[0]);
    assert.equal(page.scans[0]?.accounts, 19);
    assert.match(page.scans[0]?.headline ?? '', /^[\d.]+% compliant \(\d+ of 19 accounts read\)$/);
    assert.equal(page.scans[0]?.coverage, '19 accounts read in 2 of 3 subscriptions in scope; 1 subscription unreadable (its accounts are not counted)');
    assert.equal(page.scans[0]?.reports.csv, `/api/scans/${scanIds[0]}/report?format=csv`);
    assert.ok(page.next);
    const second = JSON.parse(await bodyText(await scans(get(page.next), context('scans')))) as { scans: Array<{ scanId: string }>; next?: string };
    assert.deepEqual(second.scans.map((s) => s.scanId), scanIds.slice(2));
    assert.equal(second.next, undefined);
    for (const bad of ['/api/scans?limit=0', '/api/scans?limit=500', '/api/scans?before=../x']) {
      assert.equal((await scans(get(bad), context('scans'))).status, 400, bad);
    }
  });

  it('GET /api/scans/{scanId}/report serves each format with its content type and file name', async () => {
    const id = scanIds[1] ?? '';
    const expected: Record<string, [string, RegExp, RegExp]> = {
      html: ['text/html; charset=utf-8', /^inline; filename="perimeter-audit-.*\.html"$/, /^<!doctype html>/],
      csv: ['text/csv; charset=utf-8', /^attachment; filename="perimeter-audit-.*\.csv"$/, /^subscriptionId,resourceGroup,accountName/],
      sarif: ['application/sarif+json', /^attachment; filename="perimeter-audit-.*\.sarif"$/, /"version":"2\.1\.0"/],
      json: ['application/json', /^attachment; filename="perimeter-audit-.*\.json"$/, new RegExp(`"scanId": "${id}"`)],
    };
    for (const [format, [type, disposition, content]] of Object.entries(expected)) {
      const r = await reports(get(`/api/scans/${id}/report?format=${format}`, { scanId: id }), context('reports'));
      assert.equal(r.status, 200, format);
      assert.equal(header(r, 'content-type'), type);
      assert.match(header(r, 'content-disposition') ?? '', disposition);
      assert.match(await bodyText(r), content);
    }
    const html = await reports(get(`/api/scans/${id}/report`, { scanId: id }), context('reports'));
    assert.match(header(html, 'content-security-policy') ?? '', /default-src 'none'/);
  });

  it('accepts latest, and refuses anything that is not a scanId with 400', async () => {
    const latest = await reports(get('/api/scans/latest/report?format=json', { scanId: 'latest' }), context('reports'));
    assert.equal(latest.status, 200);
    assert.match(await bodyText(latest), new RegExp(scanIds[0] ?? 'x'));
    for (const bad of ['..', '../latest.json', 'latest.json', '2026-11-21T03-00-00Z-abc12', '2026-11-21T03-00-00Z-abc123/../x', '%2e%2e']) {
      const r = await reports(get(`/api/scans/x/report?format=csv`, { scanId: bad }), context('reports'));
      assert.equal(r.status, 400, bad);
    }
    const missing = await reports(get('/x', { scanId: '2020-01-01T00-00-00Z-zzzzzz' }), context('reports'));
    assert.equal(missing.status, 404);
    const badFormat = await reports(get(`/x?format=pdf`, { scanId: scanIds[0] ?? '' }), context('reports'));
    assert.equal(badFormat.status, 400);
  });

  it('GET /api/scans/trend serves the committed scans\' trend, oldest first, from their scan.json summaries', async () => {
    const r = await scanTrend(get('/api/scans/trend'), context('scanTrend'));
    assert.equal(r.status, 200);
    assert.equal(header(r, 'content-type'), 'application/json; charset=utf-8');
    const body = JSON.parse(await bodyText(r)) as TrendResponse;
    assert.equal(body.limit, 30);
    assert.deepEqual(body.scans.map((p) => p.scanId), [...scanIds].reverse());
    const newest = body.scans.at(-1);
    assert.ok(newest);
    assert.deepEqual(Object.keys(newest).sort(), ['accountsRead', 'compliantPercent', 'coverage', 'fails', 'finishedAt', 'headline', 'scanId', 'status', 'unknowns']);
    assert.equal(newest.status, 'partial');
    assert.equal(newest.accountsRead, 19);
    assert.equal(typeof newest.compliantPercent, 'number');
    assert.match(newest.headline, new RegExp(`^${newest.compliantPercent}% compliant \\(\\d+ of 19 accounts read\\)$`));
    assert.deepEqual(Object.keys(newest.fails), ['high', 'medium', 'low']);
    assert.ok(newest.fails.high > 0, 'the sample tenant has high-severity fails');
    assert.deepEqual(newest.coverage.subscriptions, { inScope: 3, read: 2, unreadable: 1 });
    assert.equal(newest.coverage.text, '19 accounts read in 2 of 3 subscriptions in scope; 1 subscription unreadable (its accounts are not counted)');
    // The same figures as the scan list's, which reads the same scan.json.
    const list = JSON.parse(await bodyText(await scans(get('/api/scans?limit=1'), context('scans')))) as { scans: Array<{ scanId: string; headline: string; coverage: string }> };
    assert.deepEqual([list.scans[0]?.scanId, list.scans[0]?.headline, list.scans[0]?.coverage], [newest.scanId, newest.headline, newest.coverage.text]);

    const two = JSON.parse(await bodyText(await scanTrend(get('/api/scans/trend?limit=2'), context('scanTrend')))) as TrendResponse;
    assert.equal(two.limit, 2);
    assert.deepEqual(two.scans.map((p) => p.scanId), scanIds.slice(0, 2).reverse(), 'the newest two, oldest first');
  });

  it('GET /api/scans and the trend list committed scans only: one whose commit was refused is never listed, even after a later commit', async () => {
    const name = 'apirefused';
    const store = new BlobStore(azurite.container(name));
    const ids: string[] = [];
    await withSimulator({}, async (sim) => {
      const scanAt = (second: number) => scanSimulator(sim, { stores: [store], now: () => new Date(Date.UTC(2026, 10, 22, 3, 0, second)) });
      ids.push((await scanAt(0)).scan.scanId);
      // Someone holds a lease on latest.json: the second scan's commit is refused (its files are written).
      const lease = azurite.container(name).getBlobClient('latest.json').getBlobLeaseClient();
      await lease.acquireLease(-1);
      await assert.rejects(scanAt(1), /could not write latest\.json \(the commit point\)/);
      await lease.releaseLease();
      ids.push((await scanAt(2)).scan.scanId);
    });
    assert.equal((await store.scanIds()).length, 3, 'the refused scan\'s files are stored');
    process.env.AUDIT_CONTAINER = name;
    try {
      const list = JSON.parse(await bodyText(await scans(get('/api/scans'), context('scans')))) as { latest: string; scans: Array<{ scanId: string }> };
      assert.deepEqual(list.scans.map((s) => s.scanId), [...ids].reverse());
      assert.equal(list.latest, ids[1]);
      const trend = JSON.parse(await bodyText(await scanTrend(get('/api/scans/trend'), context('scanTrend')))) as TrendResponse;
      assert.deepEqual(trend.scans.map((p) => p.scanId), ids);
    } finally {
      process.env.AUDIT_CONTAINER = container;
    }
  });

  it('GET /api/scans/trend refuses a limit that is not 1 to 30 with 400, and is empty before the first scan', async () => {
    for (const bad of ['0', '31', '100', '-1', '1.5', 'abc', '', '030']) {
      const r = await scanTrend(get(`/api/scans/trend?limit=${encodeURIComponent(bad)}`), context('scanTrend'));
      assert.equal(r.status, 400, `limit=${bad}`);
      assert.deepEqual(JSON.parse(await bodyText(r)), { status: 400, title: 'Bad limit', detail: 'limit must be a whole number from 1 to 30' });
    }
    const max = await scanTrend(get('/api/scans/trend?limit=30'), context('scanTrend'));
    assert.equal(max.status, 200);
    process.env.AUDIT_CONTAINER = 'api-empty';
    try {
      const empty = await scanTrend(get('/api/scans/trend'), context('scanTrend'));
      assert.equal(empty.status, 200);
      assert.deepEqual(JSON.parse(await bodyText(empty)), { limit: 30, scans: [] });
    } finally {
      process.env.AUDIT_CONTAINER = container;
    }
  });

  it('GET /api/rules returns the catalog', async () => {
    const r = await rules(get('/api/rules'), context('rules'));
    const catalog = JSON.parse(await bodyText(r)) as Array<{ id: string }>;
    assert.equal(catalog.length, 21);
  });

  it('POST /api/scans answers 202 with a scanId at once, queues it, and 409 while it runs; the worker runs it once', async () => {
    await withSimulator({}, async (sim) => {
      const ctx = context('scans');
      const started = await scans(new HttpRequest({ method: 'POST', url: 'http://localhost:7071/api/scans' }), ctx);
      assert.equal(started.status, 202);
      const { scanId } = JSON.parse(await bodyText(started)) as { scanId: string };
      assert.match(scanId, /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-[a-z0-9]{6}$/);
      assert.deepEqual(ctx.extraOutputs.get(scanRequests), { scanId });
      assert.equal(header(started, 'location'), `/api/scans/${scanId}/report?format=json`);

      const ctx2 = context('scans');
      const busy = await scans(new HttpRequest({ method: 'POST', url: 'http://localhost:7071/api/scans' }), ctx2);
      assert.equal(busy.status, 409);
      assert.match(await bodyText(busy), new RegExp(scanId));
      assert.equal(ctx2.extraOutputs.get(scanRequests), undefined, 'nothing queued on 409');

      const env = {
        NODE_EXTRA_CA_CERTS: sim.caFile,
        ARM_ENDPOINT: sim.url,
        AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AUDIT_CONTAINER: container,
      };
      const run = await invokeFunction('scanRequested', env, { scanId });
      assert.equal(run.code, 0, JSON.stringify(run.logs) + run.stderr);
      const report = await reports(get('/x?format=json', { scanId }), context('reports'));
      assert.equal(report.status, 200, 'the requested scan is stored under its scanId');
      const again = await invokeFunction('scanRequested', env, { scanId });
      assert.equal(again.code, 0);
      assert.ok(again.logs.some((l) => /already stored/.test(l.message)), 'a redelivered message does nothing');

      const free = await scans(new HttpRequest({ method: 'POST', url: 'http://localhost:7071/api/scans' }), context('scans'));
      assert.equal(free.status, 202, 'the lock was released');
    });
  });

  it('a malformed queue message is completed with a logged reason', async () => {
    const warnings: string[] = [];
    const ctx = new InvocationContext({ functionName: 'scanRequested', logHandler: (level, ...a) => void (level === 'warning' && warnings.push(a.join(' '))) });
    await scanRequested({ scanId: '../../evil' }, ctx);
    await scanRequested('not json', ctx);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0] ?? '', /without a valid scanId/);
  });
});
