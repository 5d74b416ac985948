import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { SHARD_QUEUE } from '../../src/shards.js';
import { readFindings } from '../../src/store/artifact.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { BlobStore } from '../../src/store/stores.js';
import { StateStore } from '../../src/store/accountState.js';
import type { Finding } from '../../src/domain/rule.js';
import { generateTenant } from '../../src/simulator/generate.js';
import { type Receiver, startReceiver } from '../../src/simulator/receiver.js';
import { type ArmSimulator, startArmSimulator } from '../../src/simulator/server.js';
import { useAzurite } from '../helpers/azurite.js';
import { accountWriteEvent } from '../helpers/events.js';
import { invokeFunction } from '../helpers/invoke.js';
import { ENTRY } from '../helpers/paths.js';
import { runNode } from '../helpers/spawn.js';

/**
 * One pipeline (issue 16): a scan of 700 subscriptions run in one process and the same scan fanned
 * out over the `scan-shards` queue (three shards: 300, 300, 100) commit the same scan.json, send the
 * same digest, and leave account states from which a change event alerts only the real transition.
 * Every step runs as the Functions host would run it: a child process per invocation, Azurite's
 * Blob and Queue services, the HTTPS ARM simulator, a real local webhook receiver.
 */
const tenant = generateTenant({ accounts: 90, subscriptions: 700, seed: 16 });
const secret = `whsec_${Buffer.alloc(32, 16).toString('base64')}`;

/** The account rows of the generated tenant. */
const accountRows = () => tenant.resources.filter((r) => String(r.type) === 'microsoft.cognitiveservices/accounts');
const props = (row: Record<string, unknown>) => row.properties as Record<string, unknown>;

async function findingsOf(container: ContainerClient, scanId: string): Promise<Finding[]> {
  const response = await container.getBlobClient(`scans/${scanId}/findings.ndjson`).download();
  const list: Finding[] = [];
  for await (const f of readFindings(response.readableStreamBody as unknown as import('node:stream').Readable)) list.push(f);
  return list;
}

/** A scan document without what differs between two runs of the same scan: its ID and times. */
function comparable(scan: ScanDocument): unknown {
  const { scanId: _id, startedAt: _s, finishedAt: _f, stats, ...rest } = scan;
  const { durationMs: _d, ...counts } = stats;
  return { ...rest, stats: counts };
}

/** A digest body without its delivery ID, time and scan ID. */
function comparableDigest(body: string, scanId: string): unknown {
  const { id: _id, time: _time, subject: _subject, ...rest } = JSON.parse(body.split(scanId).join('SCAN')) as Record<string, unknown>;
  return rest;
}

describe('one pipeline: a fanned-out scan commits, alerts and keeps state as a single-process one', () => {
  const azurite = useAzurite({ queue: true });
  let sim: ArmSimulator;
  let receiver: Receiver;
  beforeAll(async () => {
    sim = await startArmSimulator({ tenant });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });

  const envFor = (container: string, shardAbove: number) => ({
    NODE_EXTRA_CA_CERTS: sim.caFile,
    ARM_ENDPOINT: sim.url,
    AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
    AUDIT_CONTAINER: container,
    DEEP_INSPECTION: 'true',
    SHARD_ABOVE_SUBSCRIPTIONS: String(shardAbove),
    ALERT_WEBHOOKS: JSON.stringify([{ name: 'HOOK', format: 'cloudevents', minSeverity: 'low', allowPrivateDestinations: true }]),
    ALERT_WEBHOOK_HOOK_URL: `${receiver.url}/${container}`,
    ALERT_WEBHOOK_HOOK_SECRET: secret,
  });

  /** Runs the timer, then (when it fanned out) every queued shard as the host would; returns the committed scan. */
  async function scheduledScan(container: string, fanOut: boolean): Promise<{ scan: ScanDocument; findings: Finding[]; digest: string }> {
    const env = envFor(container, fanOut ? 500 : 100_000);
    const before = receiver.requests.length;
    const timer = await invokeFunction('scheduledScan', env);
    assert.equal(timer.code, 0, JSON.stringify(timer.logs) + timer.stderr);
    assert.equal(timer.logs.some((l) => /fanning out/.test(l.message)), fanOut, JSON.stringify(timer.logs));
    if (fanOut) {
      const queue = new QueueClient(azurite.connectionString, SHARD_QUEUE);
      let shards = 0;
      for (;;) {
        const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 600 });
        if (items.length === 0) break;
        for (const item of items) {
          const run = await runNode(ENTRY.functionInvoker, ['scanShard', item.messageText], { env, omitEnv: /^(SCAN_|AUDIT_|ARM_|DEEP_|AZURE_CLOUD)/ });
          assert.equal(run.code, 0, run.output);
          await queue.deleteMessage(item.messageId, item.popReceipt);
          shards += 1;
        }
      }
      assert.equal(shards, 3, '700 subscriptions make three shards');
    }
    const blob = azurite.container(container);
    const latest = await new BlobStore(blob).latest();
    assert.ok(latest, 'committed');
    const stored = await new BlobStore(blob).scan(latest.scanId);
    assert.ok(stored);
    const digests = receiver.requests.slice(before).filter((r) => r.path === `/${container}`);
    assert.equal(digests.length, 1, `one digest per scan (${digests.length})`);
    return { scan: stored.scan, findings: await findingsOf(blob, latest.scanId), digest: comparableDigest(digests[0]?.body ?? '', latest.scanId) as string };
  }

  it('the same scan.json, reports, digest and account states; a following change event alerts only the real transition', async () => {
    // Round 1: no previous scan.
    const single1 = await scheduledScan('single', false);
    const fanned1 = await scheduledScan('fanned', true);
    assert.deepEqual(comparable(fanned1.scan), comparable(single1.scan));
    assert.equal(fanned1.scan.coverage.subscriptions.length, 700);
    assert.ok(fanned1.scan.coverage.accounts > 0 && fanned1.scan.coverage.deepInspection.accounts > 0, 'accounts and deep inspection were read');
    assert.ok(fanned1.scan.coverage.tables.every((t) => t.rows > 0), `every table has rows: ${JSON.stringify(fanned1.scan.coverage.tables)}`);
    assert.deepEqual(fanned1.digest, single1.digest);

    // Between the rounds: one account regresses (public network access opens), one is fixed.
    const passing = single1.findings.find((f) => f.ruleId === 'NET-01' && f.outcome === 'pass');
    const failing = single1.findings.find((f) => f.ruleId === 'AUTH-01' && f.outcome === 'fail');
    assert.ok(passing && failing);
    const rows = accountRows();
    const opened = rows.find((r) => String(r.id).toLowerCase() === passing.resourceId.toLowerCase());
    const fixed = rows.find((r) => String(r.id).toLowerCase() === failing.resourceId.toLowerCase());
    assert.ok(opened && fixed);
    props(opened).publicNetworkAccess = 'Enabled';
    props(opened).networkAcls = { defaultAction: 'Allow', ipRules: [], virtualNetworkRules: [] };
    props(fixed).disableLocalAuth = true;

    // Round 2: transitions against round 1, the same on both paths, and the reports' diff with them.
    const single2 = await scheduledScan('single', false);
    const fanned2 = await scheduledScan('fanned', true);
    assert.deepEqual(comparable(fanned2.scan), comparable(single2.scan));
    assert.deepEqual(fanned2.digest, single2.digest);
    const digest = JSON.parse(JSON.stringify(fanned2.digest)) as { data: { items: Array<{ kind: string; ruleId: string; resourceId: string }> } };
    const kinds = digest.data.items.map((t) => `${t.kind} ${t.ruleId} ${t.resourceId.toLowerCase()}`);
    assert.ok(kinds.includes(`regressed NET-01 ${passing.resourceId.toLowerCase()}`), kinds.join('\n'));
    assert.ok(kinds.includes(`resolved AUTH-01 ${failing.resourceId.toLowerCase()}`), kinds.join('\n'));
    for (const name of ['report.html', 'report.csv', 'report.sarif', 'report.json']) {
      const a = (await azurite.container('single').getBlobClient(`scans/${single2.scan.scanId}/${name}`).downloadToBuffer()).toString();
      const b = (await azurite.container('fanned').getBlobClient(`scans/${fanned2.scan.scanId}/${name}`).downloadToBuffer()).toString();
      const neutral = (text: string, ids: string[]) => ids.reduce((t, id) => t.split(id).join('SCAN'), text).replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, 'TIME').replace(/\b\d+(\.\d+)? ?(ms|s)\b/g, 'DURATION');
      assert.equal(neutral(b, [fanned2.scan.scanId, fanned1.scan.scanId]), neutral(a, [single2.scan.scanId, single1.scan.scanId]), `${name} is the same on both paths`);
    }

    // The fanned-out scan refreshed every account's state: a change event alerts only what changed.
    const states = await new StateStore(azurite.container('fanned')).all();
    assert.equal(states.length, fanned2.scan.coverage.accounts);
    assert.ok(states.every((s) => s.source.kind === 'scan' && s.source.id === fanned2.scan.scanId));
    props(fixed).disableLocalAuth = false;
    const before = receiver.requests.length;
    const run = await invokeFunction('resourceChanged', envFor('fanned', 500), accountWriteEvent(String(fixed.id)));
    assert.equal(run.code, 0, JSON.stringify(run.logs) + run.stderr);
    assert.ok(run.logs.some((l) => /1 account\(s\), 1 transition\(s\)/.test(l.message)), JSON.stringify(run.logs));
    const alerts = receiver.requests.slice(before).filter((r) => r.path === '/fanned');
    assert.equal(alerts.length, 1);
    const alert = JSON.parse(alerts[0]?.body ?? '{}') as { data: { items: Array<{ kind: string; ruleId: string; from: string; to: string }> } };
    assert.deepEqual(alert.data.items.map((t) => `${t.kind} ${t.ruleId} ${t.from}→${t.to}`), ['regressed AUTH-01 pass→fail']);
  });
});
