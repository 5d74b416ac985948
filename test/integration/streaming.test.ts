import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { createAzureClients, developmentCredential } from '../../src/collect/clients.js';
import { defaultPolicy } from '../../src/config/policy.js';
import { evaluateShard } from '../../src/pipeline/shard.js';
import { planOf, runScan } from '../../src/scan.js';
import { DirectoryStore } from '../../src/store/stores.js';
import { generateTenant } from '../../src/simulator/generate.js';
import { type SimulatorRequest, type SimulatorResponse, startArmSimulator } from '../../src/simulator/server.js';

/**
 * Issue 17: a shard streams its accounts a page at a time — evaluated while the next page is
 * requested, never more than two pages of accounts held — and a batch whose read fails after some
 * of its pages were evaluated leaves nothing behind. 400 accounts in 2 subscriptions read 20 to a
 * page make a 20-page shard.
 */
const PAGE = 20;
const tenant = generateTenant({ accounts: 400, subscriptions: 2, seed: 17 });
const isAccountPage = (r: SimulatorRequest) => r.kind === 'graph' && String(r.body?.query ?? '').includes('microsoft.cognitiveservices/accounts');

/** The SDK clients of a scan against `sim`, the accounts read `PAGE` to a page, with no retry wait worth the name. */
function clientsOf(sim: { url: string; caCertificate: string }) {
  return createAzureClients({
    armEndpoint: sim.url,
    credential: developmentCredential(sim.url),
    caCertificates: sim.caCertificate,
    pageSize: PAGE,
    throttle: { baseDelayMs: 1, window: { limit: 10_000, windowMs: 5000 } },
  });
}

/** Runs the one shard; `onFindings` gets the account pages requested so far (the reader's count, taken when each request is issued). */
async function shardOf(fault: (r: SimulatorRequest) => SimulatorResponse | undefined, onFindings?: (pagesRequested: number) => void) {
  const sim = await startArmSimulator({ tenant, fault, quota: { limit: 100_000, windowMs: 5000, enforce: false, retryAfter: true } });
  try {
    const clients = clientsOf(sim);
    const policy = defaultPolicy();
    const planned = await planOf({ scope: { subscriptions: [], managementGroups: [] }, policy, deepInspection: false, clients }, new Date(), () => {});
    assert.equal(planned.plan.shards.length, 1);
    const before = clients.graph.requested;
    return await evaluateShard({
      plan: planned.plan,
      index: 0,
      context: planned.prepared,
      policy,
      clients,
      log: () => {},
      now: () => new Date(),
      deepConcurrency: 8,
      retainFindings: true,
      ...(onFindings ? { onFindings: () => onFindings(clients.graph.requested - before) } : {}),
    });
  } finally {
    await sim.close();
  }
}

describe('a shard streams its accounts page by page', () => {
  it('evaluates while pages arrive and holds at most two pages of accounts (20 pages of 20)', async () => {
    const requestedAtFindings: number[] = [];
    const shard = await shardOf(() => undefined, (pages) => requestedAtFindings.push(pages));
    try {
      assert.equal(shard.part.accountRows, 400);
      assert.equal(shard.part.accounts, 400);
      assert.equal(shard.part.accountQuery.pages, 20, 'one request a page, no slack');
      assert.ok(shard.part.peakAccountRows >= PAGE && shard.part.peakAccountRows <= 2 * PAGE, `held ${shard.part.peakAccountRows} account rows at most`);
      // When the first account's findings were written, the second page had been asked for already:
      // each page is evaluated while the next one is read (and never more than one ahead).
      assert.equal(requestedAtFindings[0], 2);
      assert.ok(requestedAtFindings.every((n) => n <= 20));
      const lines = (await readFile(shard.findingsFile, 'utf8')).trim().split('\n');
      assert.equal(lines.length, shard.retained.length);
      assert.equal((await readFile(shard.statesFile, 'utf8')).trim().split('\n').length, 400, 'one state per account');
    } finally {
      await rm(shard.findingsFile, { force: true });
      await rm(shard.statesFile, { force: true });
    }
  });

  it('a read that fails after five pages were evaluated discards them: no finding, no state, the subscriptions unreadable', async () => {
    let pages = 0;
    const shard = await shardOf((r) => {
      if (!isAccountPage(r)) return undefined;
      pages += 1;
      return pages > 5 ? { status: 500, body: { error: { code: 'InternalServerError', message: 'boom' } } } : undefined;
    });
    try {
      assert.equal(shard.part.accounts, 0);
      assert.deepEqual(shard.retained, []);
      assert.equal((await readFile(shard.findingsFile, 'utf8')).length, 0);
      assert.equal((await readFile(shard.statesFile, 'utf8')).length, 0);
      assert.deepEqual(shard.part.subscriptions.map((s) => s.status), ['unreadable', 'unreadable']);
      assert.match(shard.part.subscriptions[0]?.reason ?? '', /HTTP 500/);
      assert.equal(shard.part.accountQuery.rows, 0, 'a failed read adds no rows to the plan');
      assert.ok(shard.part.accountQuery.pages > 5, 'its pages are slack');
    } finally {
      await rm(shard.findingsFile, { force: true });
      await rm(shard.statesFile, { force: true });
    }
  });

  it('a whole scan: a batch that fails after the report pass read some of its pages reaches no report (the pass starts again)', async () => {
    // 301 subscriptions: shard 0 (300 of them, its accounts 20 to a page) fails on its sixth page;
    // shard 1 (one subscription) is read. The pass reads shard 0 while it runs.
    const wide = generateTenant({ accounts: 400, subscriptions: 301, seed: 17 });
    let shardZeroPages = 0;
    const sim = await startArmSimulator({
      tenant: wide,
      quota: { limit: 100_000, windowMs: 5000, enforce: false, retryAfter: true },
      fault: (r) => {
        if (!isAccountPage(r) || ((r.body?.subscriptions as unknown[] | undefined)?.length ?? 0) < 300) return undefined;
        shardZeroPages += 1;
        if (shardZeroPages <= 5) return undefined;
        // The sixth page fails once the pass has written some of shard 0's findings (a condition, not a delay).
        return passHasRead().then(() => ({ status: 500, body: { error: { code: 'InternalServerError', message: 'boom' } } }));
      },
    });
    const dir = await mkdtemp(join(tmpdir(), 'pa-restart-'));
    const work = await mkdtemp(join(tmpdir(), 'pa-restart-work-'));
    const passHasRead = async () => {
      for (let i = 0; i < 2000; i++) {
        const passDir = (await readdir(work)).find((n) => n.startsWith('pa-report-files-'));
        const size = passDir ? await stat(join(work, passDir, 'findings.ndjson')).then((s) => s.size, () => 0) : 0;
        if (size > 0) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('the pass never read shard 0');
    };
    const logs: string[] = [];
    try {
      const clients = clientsOf(sim);
      const policy = defaultPolicy();
      const { scan } = await runScan({
        scope: { subscriptions: [], managementGroups: [] },
        policy,
        deepInspection: false,
        clients,
        stores: [new DirectoryStore(dir)],
        workDir: work,
        log: (l) => logs.push(l),
      });
      assert.ok(logs.some((l) => /the report pass starts again from the shards' files/.test(l)), 'the pass had read part of the discarded batch');
      const unreadable = scan.coverage.subscriptions.filter((c) => c.status === 'unreadable');
      assert.equal(unreadable.length, 300, 'shard 0\'s subscriptions are unreadable');
      const read = new Set(scan.coverage.subscriptions.filter((c) => c.status === 'read').map((c) => c.id.toLowerCase()));
      const lines = (await readFile(join(dir, 'findings.ndjson'), 'utf8')).split('\n').filter(Boolean);
      assert.equal(lines.length, scan.coverage.accounts * scan.rules.length, 'findings of the accounts read alone');
      for (const l of lines) assert.ok(read.has((JSON.parse(l) as { subscriptionId: string }).subscriptionId.toLowerCase()), l.slice(0, 200));
      const csvRows = (await readFile(join(dir, 'report.csv'), 'utf8')).split('\r\n').filter(Boolean).length - 1;
      assert.equal(csvRows, lines.length, 'report.csv has the same findings');
      assert.ok(shardZeroPages > 5);
      assert.deepEqual(await readdir(work), [], 'both passes\' files and the shards\' files are gone');
    } finally {
      await sim.close();
      await rm(dir, { recursive: true, force: true });
      await rm(work, { recursive: true, force: true });
    }
  });

  it('a simulator removes its certificate file when it closes (one is written per start, for NODE_EXTRA_CA_CERTS)', async () => {
    const sim = await startArmSimulator({ tenant });
    assert.equal(await readFile(sim.caFile, 'utf8'), sim.caCertificate);
    await sim.close();
    await assert.rejects(stat(sim.caFile), /ENOENT/);
  });
});
