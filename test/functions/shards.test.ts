import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { createAzureClients, developmentCredential } from '../../src/collect/clients.js';
import { defaultPolicy } from '../../src/config/policy.js';
import { runScan } from '../../src/scan.js';
import { finalizeOverdueScans, planShardedScan, runShard, SHARD_POISON_QUEUE, SHARD_QUEUE } from '../../src/shards.js';
import { readFindings } from '../../src/store/artifact.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { BlobStore } from '../../src/store/stores.js';
import type { Finding } from '../../src/domain/rule.js';
import { type Azurite, startAzurite } from '../simulator/azurite.js';
import { generateTenant } from '../simulator/generate.js';
import { type ArmSimulator, startArmSimulator } from '../simulator/server.js';

/**
 * Fan-out for real: Azurite's Blob and Queue services, the HTTPS ARM simulator, and the queue
 * worker run as a child process per delivery (as the Functions host would run it), one of them
 * SIGKILLed mid-shard. 700 subscriptions make three shards (300, 300, 100).
 */
const ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'invoke.js');
const tenant = generateTenant({ accounts: 90, subscriptions: 700, seed: 7 });
const policy = () => {
  const p = defaultPolicy();
  return { ...p, parameters: { ...p.parameters, deepInspection: false } };
};
const verdicts = (findings: Iterable<Finding>) => [...findings].map((f) => `${f.resourceId.toLowerCase()} ${f.ruleId} ${f.outcome} ${f.message}`).sort();

const simClients = (sim: ArmSimulator) =>
  createAzureClients({ armEndpoint: sim.url, credential: developmentCredential(sim.url), caCertificates: sim.caCertificate, throttle: { baseDelayMs: 5 } });

function worker(env: Record<string, string>, message: string) {
  const child = spawn(process.execPath, [ENTRY, 'scanShard', message], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null, out }));
  return { child, exited };
}

async function readAll(container: ContainerClient, name: string): Promise<Finding[]> {
  const response = await container.getBlobClient(name).download();
  const list: Finding[] = [];
  for await (const f of readFindings(response.readableStreamBody as unknown as import('node:stream').Readable)) list.push(f);
  return list;
}

describe('fanned-out scan (scan-shards queue)', () => {
  let azurite: Azurite;
  let sim: ArmSimulator;
  // The account query of the second shard hangs the first time it is asked, so its worker can be killed mid-shard.
  let hangOnce = true;
  let hung: () => void = () => {};
  const hanging = new Promise<void>((resolve) => (hung = resolve));
  const secondShard = new Set(tenant.resourcecontainers.slice(300, 600).map((r) => String(r.subscriptionId).toLowerCase()));
  before(async () => {
    azurite = await startAzurite(30_000, { queue: true });
    sim = await startArmSimulator({
      tenant,
      fault: (r) => {
        const subs = (r.body?.subscriptions ?? []) as string[];
        if (r.kind === 'graph' && hangOnce && String(r.body?.query).includes('cognitiveservices/accounts') && subs.some((s) => secondShard.has(s.toLowerCase()))) {
          hangOnce = false;
          hung();
          return { status: 200, delayMs: 15_000, body: { data: [] } };
        }
        return undefined;
      },
    });
  });
  after(async () => {
    await sim.close();
    await azurite.stop();
  });

  it('commits once, with the single-process verdicts, after a worker is killed mid-shard and a message is delivered twice', async () => {
    const env = {
      NODE_EXTRA_CA_CERTS: sim.caFile,
      ARM_ENDPOINT: sim.url,
      AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
      AUDIT_CONTAINER: 'fanout',
      DEEP_INSPECTION: 'false',
      SHARD_ABOVE_SUBSCRIPTIONS: '500',
    };
    const planned = spawn(process.execPath, [ENTRY, 'scheduledScan'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const [planCode] = await once(planned, 'exit');
    assert.equal(planCode, 0);
    const queue = new QueueClient(azurite.connectionString, SHARD_QUEUE);
    const seen: string[] = [];
    let killed = 0;
    // The host's loop: receive with a short visibility timeout, run, delete on success only.
    for (let round = 0; round < 40; round++) {
      const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 3, visibilityTimeout: 2 });
      if (items.length === 0) {
        const { approximateMessagesCount = 0 } = await queue.getProperties();
        if (approximateMessagesCount === 0) break;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const runs = items.map((item) => {
        const text = item.messageText;
        const decoded = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as { shard: number };
        seen.push(`shard ${decoded.shard}`);
        return { item, decoded, run: worker(env, text) };
      });
      if (killed === 0 && runs.some((r) => r.decoded.shard === 1)) {
        await hanging;
        const victim = runs.find((r) => r.decoded.shard === 1);
        victim?.run.child.kill('SIGKILL');
        killed += 1;
      }
      for (const r of runs) {
        const result = await r.run.exited;
        if (result.code === 0) await queue.deleteMessage(r.item.messageId, r.item.popReceipt);
        else assert.equal(result.signal, 'SIGKILL', result.out);
      }
    }
    assert.equal(killed, 1);
    assert.equal(seen.filter((s) => s === 'shard 1').length, 2, `shard 1 was delivered again after its worker died: ${seen.join(', ')}`);

    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('fanout');
    const store = new BlobStore(container);
    const latest = await store.latest();
    assert.ok(latest);
    const stored = await store.scan(latest.scanId);
    assert.ok(stored);
    assert.equal(stored.scan.status, 'complete', JSON.stringify(stored.scan.coverage.problems));
    assert.equal(stored.scan.coverage.accounts, 90);
    assert.equal(stored.scan.coverage.subscriptions.length, 700);

    // Redelivery of a finished shard changes nothing.
    const again = await worker(env, Buffer.from(JSON.stringify({ scanId: latest.scanId, shard: 0 })).toString('base64')).exited;
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /already-committed/);
    assert.equal((await store.latest())?.scanId, latest.scanId);

    // The same verdicts as one process scanning the whole tenant.
    const clients = simClients(sim);
    const single = await runScan({ scope: { subscriptions: [], managementGroups: [] }, policy: policy(), clients, stores: [], retainFindings: true });
    assert.deepEqual(verdicts(await readAll(container, `scans/${latest.scanId}/findings.ndjson`)), verdicts(single.findings));
    assert.deepEqual(stored.scan.summary.byOutcome, single.scan.summary.byOutcome);
    for (const name of ['report.html', 'report.csv', 'report.sarif', 'report.json']) assert.ok(await container.getBlobClient(`scans/${latest.scanId}/${name}`).exists(), name);
  });

  it('moves a malformed message to the poison queue with the reason', async () => {
    const env = { AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString, AUDIT_CONTAINER: 'fanout' };
    const run = await worker(env, JSON.stringify({ scanId: 'not-a-scan', shard: -1 })).exited;
    assert.equal(run.code, 0, run.out);
    const poison = new QueueClient(azurite.connectionString, SHARD_POISON_QUEUE);
    const { receivedMessageItems: items } = await poison.receiveMessages({ numberOfMessages: 5 });
    const records = items.map((i) => JSON.parse(Buffer.from(i.messageText, 'base64').toString('utf8')) as { reason: string; message: string });
    const record = records.find((r) => r.message.includes('not-a-scan'));
    assert.ok(record, JSON.stringify(records));
    assert.match(record.reason, /malformed shard message .*scanId/);
  });

  it('commits a scan whose shard never reported as partial once the timeout has passed', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('overdue');
    const queue = new QueueClient(azurite.connectionString, 'overdue-shards');
    const clients = simClients(sim);
    const t0 = new Date('2026-11-21T00:00:00Z');
    const plan = await planShardedScan({ scanId: '2026-11-21T00-00-00Z-abcdef', scope: { subscriptions: [], managementGroups: [] }, policy: policy(), clients, container, queue, timeoutMs: 60_000, log: () => {}, now: () => t0 });
    assert.equal(plan.shards.length, 3);
    for (const shard of [0, 1]) assert.equal(await runShard({ scanId: plan.scanId, shard }, { container, clients, policy: policy(), log: () => {} }), 'scanned');
    assert.equal(await new BlobStore(container).latest(), undefined, 'not committed while a shard is missing');
    assert.deepEqual(await finalizeOverdueScans({ container, log: () => {}, now: () => new Date(t0.getTime() + 30_000) }), [], 'not before the deadline');
    assert.deepEqual(await finalizeOverdueScans({ container, log: () => {}, now: () => new Date(t0.getTime() + 61_000) }), [plan.scanId]);
    const doc = JSON.parse((await container.getBlobClient(`scans/${plan.scanId}/scan.json`).downloadToBuffer()).toString()) as ScanDocument;
    assert.equal(doc.status, 'partial');
    const missing = doc.coverage.subscriptions.filter((s) => s.status === 'unreadable');
    assert.equal(missing.length, 100);
    assert.match(missing[0]?.reason ?? '', /shard 2 did not report within 1 minutes/);
    assert.equal((await new BlobStore(container).latest())?.scanId, plan.scanId);
  });
});
