import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ContainerClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { createAzureClients, developmentCredential } from '../../src/collect/clients.js';
import { defaultPolicy } from '../../src/config/policy.js';
import { runScan } from '../../src/scan.js';
import type { AzureClients } from '../../src/collect/clients.js';
import { enqueueShards, finalizeOverdueScans, runShard, SHARD_POISON_QUEUE, SHARD_QUEUE } from '../../src/shards.js';
import { planOf } from '../../src/scan.js';
import { readFindings } from '../../src/store/artifact.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { BlobStore } from '../../src/store/stores.js';
import type { Finding } from '../../src/domain/rule.js';
import { generateTenant } from '../../src/simulator/generate.js';
import { type ArmSimulator, startArmSimulator } from '../../src/simulator/server.js';
import { FAULT_VARIABLE } from '../../src/testing/faults.js';
import { useAzurite } from '../helpers/azurite.js';
import { ENTRY } from '../helpers/paths.js';
import { runNode } from '../helpers/spawn.js';

/**
 * Fan-out for real: Azurite's Blob and Queue services, the HTTPS ARM simulator, and the queue
 * worker run as a child process per delivery (as the Functions host would run it), one of them
 * SIGKILLed mid-shard by the test-only fault hook. 700 subscriptions make three shards (300, 300, 100).
 */
const tenant = generateTenant({ accounts: 90, subscriptions: 700, seed: 7 });
const policy = () => {
  const p = defaultPolicy();
  return { ...p, deepInspection: false };
};
const verdicts = (findings: Iterable<Finding>) => [...findings].map((f) => `${f.resourceId.toLowerCase()} ${f.ruleId} ${f.outcome} ${f.message}`).sort();

const simClients = (sim: ArmSimulator) =>
  createAzureClients({ armEndpoint: sim.url, credential: developmentCredential(sim.url), caCertificates: sim.caCertificate, throttle: { baseDelayMs: 5 } });

/** Plans a scan of the whole tenant at `now` and queues its shards (the timer's fan-out path). */
async function planShardedScan(o: { scanId: string; clients: AzureClients; container: ContainerClient; queue: QueueClient; timeoutMs: number; now: Date }) {
  const planned = await planOf({ scanId: o.scanId, scope: { subscriptions: [], managementGroups: [] }, policy: policy(), clients: o.clients }, o.now, () => {});
  return enqueueShards({ planned, container: o.container, queue: o.queue, timeoutMs: o.timeoutMs, log: () => {} });
}

const worker = (env: Record<string, string>, message: string) => runNode(ENTRY.functionInvoker, ['scanShard', message], { env });

async function readAll(container: ContainerClient, name: string): Promise<Finding[]> {
  const response = await container.getBlobClient(name).download();
  const list: Finding[] = [];
  for await (const f of readFindings(response.readableStreamBody as unknown as import('node:stream').Readable)) list.push(f);
  return list;
}

describe('fanned-out scan (scan-shards queue)', () => {
  const azurite = useAzurite({ queue: true });
  let sim: ArmSimulator;
  beforeAll(async () => {
    sim = await startArmSimulator({ tenant });
  });
  afterAll(async () => {
    await sim.close();
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
    const planned = await runNode(ENTRY.functionInvoker, ['scheduledScan'], { env });
    assert.equal(planned.code, 0, planned.output);
    const queue = new QueueClient(azurite.connectionString, SHARD_QUEUE);
    const seen: string[] = [];
    let killed = 0;
    // The host's loop: receive, run, delete on success only. The visibility timeout is longer than
    // any run, so a message comes back only when the test makes it visible again: what the host's
    // timeout does for a worker that died, without waiting for a clock.
    for (let round = 0; round < 10; round++) {
      const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 3, visibilityTimeout: 600 });
      if (items.length === 0) break;
      const runs = items.map((item) => {
        const text = item.messageText;
        const decoded = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as { shard: number };
        seen.push(`shard ${decoded.shard}`);
        // The first delivery of shard 0 (the shard holding the accounts) dies mid-shard: SIGKILL
        // after its first account's findings were written.
        const fault: Record<string, string> = killed === 0 && decoded.shard === 0 ? { [FAULT_VARIABLE]: 'evaluation' } : {};
        if (decoded.shard === 0 && killed === 0) killed += 1;
        return { item, decoded, run: worker({ ...env, ...fault }, text) };
      });
      for (const r of runs) {
        const result = await r.run;
        if (result.code === 0) await queue.deleteMessage(r.item.messageId, r.item.popReceipt);
        else {
          assert.equal(result.signal, 'SIGKILL', result.output);
          await queue.updateMessage(r.item.messageId, r.item.popReceipt, undefined, 0);
        }
      }
    }
    assert.equal((await queue.getProperties()).approximateMessagesCount, 0, 'every message handled');
    assert.equal(killed, 1);
    assert.equal(seen.filter((s) => s === 'shard 0').length, 2, `shard 0 was delivered again after its worker died: ${seen.join(', ')}`);

    const container = azurite.container('fanout');
    const store = new BlobStore(container);
    const latest = await store.latest();
    assert.ok(latest);
    const stored = await store.scan(latest.scanId);
    assert.ok(stored);
    assert.equal(stored.scan.status, 'complete', JSON.stringify(stored.scan.coverage.problems));
    assert.equal(stored.scan.coverage.accounts, 90);
    assert.equal(stored.scan.coverage.subscriptions.length, 700);

    // Redelivery of a finished shard changes nothing.
    const again = await worker(env, Buffer.from(JSON.stringify({ scanId: latest.scanId, shard: 0 })).toString('base64'));
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /already-committed/);
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
    const run = await worker(env, JSON.stringify({ scanId: 'not-a-scan', shard: -1 }));
    assert.equal(run.code, 0, run.output);
    const poison = new QueueClient(azurite.connectionString, SHARD_POISON_QUEUE);
    const { receivedMessageItems: items } = await poison.receiveMessages({ numberOfMessages: 5 });
    const records = items.map((i) => JSON.parse(Buffer.from(i.messageText, 'base64').toString('utf8')) as { reason: string; message: string });
    const record = records.find((r) => r.message.includes('not-a-scan'));
    assert.ok(record, JSON.stringify(records));
    assert.match(record.reason, /malformed shard message .*scanId/);
  });

  it('commits a scan whose shard never reported as partial once the timeout has passed', async () => {
    const container = azurite.container('overdue');
    const queue = new QueueClient(azurite.connectionString, 'overdue-shards');
    const clients = simClients(sim);
    const t0 = new Date('2026-11-21T00:00:00Z');
    const plan = await planShardedScan({ scanId: '2026-11-21T00-00-00Z-abcdef', clients, container, queue, timeoutMs: 60_000, now: t0 });
    assert.equal(plan.shards.length, 3);
    for (const shard of [0, 1]) assert.equal(await runShard({ scanId: plan.scanId, shard }, { container, clients, log: () => {} }), 'scanned');
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

  it('does not commit a fanned-out scan in which no shard reported: nothing was read', async () => {
    const container = azurite.container('nothingread');
    const queue = new QueueClient(azurite.connectionString, 'nothingread-shards');
    const t0 = new Date('2026-11-21T00:00:00Z');
    const plan = await planShardedScan({ scanId: '2026-11-21T00-00-00Z-nothin', clients: simClients(sim), container, queue, timeoutMs: 60_000, now: t0 });
    const lines: string[] = [];
    assert.deepEqual(await finalizeOverdueScans({ container, log: (m) => lines.push(m), now: () => new Date(t0.getTime() + 61_000) }), []);
    assert.equal(await new BlobStore(container).latest(), undefined, 'latest.json does not move to a scan of nothing');
    assert.equal(await container.getBlobClient(`scans/${plan.scanId}/scan.json`).exists(), false);
    assert.ok(lines.some((l) => l.startsWith(`scan ${plan.scanId} not committed: no subscription could be read: 0 of 700 in scope,`)), lines.join('\n'));
    assert.deepEqual(await finalizeOverdueScans({ container, log: () => {}, now: () => new Date(t0.getTime() + 120_000) }), [], 'and it is not retried for ever');
  });
});
