import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { ContainerClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import type { Finding } from '../../src/domain/rule.js';
import { SHARD_QUEUE } from '../../src/shards.js';
import { stateBlobName } from '../../src/store/accountState.js';
import { BlobStore } from '../../src/store/stores.js';
import { type Receiver, startReceiver } from '../../src/simulator/receiver.js';
import type { Row } from '../../src/simulator/server.js';
import { useAzurite } from '../helpers/azurite.js';
import { accountWriteEvent } from '../helpers/events.js';
import { invokeFunction } from '../helpers/invoke.js';
import { ENTRY } from '../helpers/paths.js';
import { sampleTenant, SUB_DEV, SUB_PROD, withSimulator } from '../helpers/sample.js';
import { runCli, runNode } from '../helpers/spawn.js';

/**
 * The policy's scope is one step of the one pipeline (pipeline/scope.ts): the CLI, the timer, a
 * fanned-out scan and a change event give the same findings, and an excluded account gets no
 * finding, no state and no alert on any of them.
 */
const RG = `/subscriptions/${SUB_PROD}/resourceGroups`;
const CHAT = `${RG}/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts/oai-chat-prod`;
const LEGACY = `${RG}/rg-ai-legacy/providers/Microsoft.CognitiveServices/accounts/oai-legacy-prod`;
const POLICY = `scope:
  include: { subscriptions: [${SUB_PROD}, ${SUB_DEV}] }
  exclude: { resourceGroups: [${RG}/rg-ai-legacy] }
`;

const verdicts = (findings: Iterable<Finding>) => [...findings].map((f) => `${f.resourceId.toLowerCase()} ${f.ruleId} ${f.outcome}`).sort();
const parseNdjson = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Finding);

async function committedFindings(container: ContainerClient): Promise<Finding[]> {
  const latest = await new BlobStore(container).latest();
  assert.ok(latest, 'a scan was committed');
  return parseNdjson((await container.getBlobClient(`scans/${latest.scanId}/findings.ndjson`).downloadToBuffer()).toString());
}

describe('the policy scope on every entry point', () => {
  const azurite = useAzurite({ queue: true });
  let receiver: Receiver;
  let dir: string;
  beforeAll(async () => {
    receiver = await startReceiver();
    dir = await mkdtemp(join(tmpdir(), 'scope-'));
  });
  afterAll(async () => {
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('CLI, timer, fanned-out scan and change event: the same findings, none for the excluded account', async () => {
    const tenant = await sampleTenant();
    await withSimulator({ tenant }, async (sim) => {
      const policyFile = join(dir, 'policy.yaml');
      await writeFile(policyFile, POLICY);
      const cli = await runCli(['scan', '--arm-endpoint', sim.url, '--policy', policyFile, '--output', join(dir, 'out'), '--allow-partial'], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.ok(cli.code === 0 || cli.code === 1, cli.output);
      const fromCli = parseNdjson(await readFile(join(dir, 'out', 'findings.ndjson'), 'utf8'));

      const env = (container: string, shardAbove: number) => ({
        NODE_EXTRA_CA_CERTS: sim.caFile,
        ARM_ENDPOINT: sim.url,
        AUDIT_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AUDIT_CONTAINER: container,
        POLICY,
        SHARD_ABOVE_SUBSCRIPTIONS: String(shardAbove),
        ALERT_WEBHOOKS: JSON.stringify([{ name: 'HOOK', format: 'cloudevents', minSeverity: 'low', allowPrivateDestinations: true }]),
        ALERT_WEBHOOK_HOOK_URL: `${receiver.url}/${container}`,
        ALERT_WEBHOOK_HOOK_SECRET: `whsec_${Buffer.alloc(32, 3).toString('base64')}`,
      });
      const timer = await invokeFunction('scheduledScan', env('timer', 100));
      assert.equal(timer.code, 0, JSON.stringify(timer.logs));
      const fromTimer = await committedFindings(azurite.container('timer'));

      const fannedEnv = env('fanned', 0);
      const planned = await invokeFunction('scheduledScan', fannedEnv);
      assert.ok(planned.logs.some((l) => /fanning out/.test(l.message)), JSON.stringify(planned.logs));
      const queue = new QueueClient(azurite.connectionString, SHARD_QUEUE);
      for (;;) {
        const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 600 });
        if (items.length === 0) break;
        for (const item of items) {
          const run = await runNode(ENTRY.functionInvoker, ['scanShard', item.messageText], { env: fannedEnv, omitEnv: /^(SCAN_|AUDIT_|ARM_|DEEP_|AZURE_CLOUD)/ });
          assert.equal(run.code, 0, run.output);
          await queue.deleteMessage(item.messageId, item.popReceipt);
        }
      }
      const fanned = azurite.container('fanned');
      const fromFanOut = await committedFindings(fanned);

      assert.ok(fromCli.length > 0);
      assert.ok(!fromCli.some((f) => f.resourceId.toLowerCase() === LEGACY.toLowerCase()), 'the excluded account has no finding');
      assert.ok(fromCli.some((f) => f.resourceId.toLowerCase() === CHAT.toLowerCase()));
      assert.deepEqual(verdicts(fromTimer), verdicts(fromCli));
      assert.deepEqual(verdicts(fromFanOut), verdicts(fromCli));
      assert.equal(await fanned.getBlobClient(stateBlobName(LEGACY)).exists(), false, 'no state for the excluded account');
      assert.equal(await fanned.getBlobClient(stateBlobName(CHAT)).exists(), true);

      // A change event for the excluded account: left alone. For an included one: the scan's verdicts.
      const legacyRow = tenant.resources.find((r: Row) => String(r.id).toLowerCase() === LEGACY.toLowerCase());
      assert.ok(legacyRow);
      (legacyRow.properties as Record<string, unknown>).disableLocalAuth = !(legacyRow.properties as Record<string, unknown>).disableLocalAuth;
      const before = receiver.requests.length;
      const excluded = await invokeFunction('resourceChanged', fannedEnv, accountWriteEvent(LEGACY));
      assert.equal(excluded.code, 0, JSON.stringify(excluded.logs));
      assert.ok(excluded.logs.some((l) => /1 account\(s\) outside the scope left alone/.test(l.message)), JSON.stringify(excluded.logs));
      assert.ok(excluded.logs.some((l) => /: 0 account\(s\), 0 transition\(s\)/.test(l.message)), JSON.stringify(excluded.logs));
      assert.equal(await fanned.getBlobClient(stateBlobName(LEGACY)).exists(), false, 'still no state');
      assert.equal(receiver.requests.slice(before).filter((r) => r.path === '/fanned').length, 0, 'no alert');

      const included = await invokeFunction('resourceChanged', fannedEnv, accountWriteEvent(CHAT));
      assert.equal(included.code, 0, JSON.stringify(included.logs));
      assert.ok(included.logs.some((l) => /: 1 account\(s\), 0 transition\(s\)/.test(l.message)), JSON.stringify(included.logs));
      const records: Finding[] = [];
      for await (const b of fanned.listBlobsFlat({ prefix: 'events/' })) {
        const record = JSON.parse((await fanned.getBlobClient(b.name).downloadToBuffer()).toString()) as { findings: Finding[] };
        records.push(...record.findings);
      }
      // The event's verdicts are the scan's, ID-02/ID-04 included (it reads the Cosmos DB and Search data sources too).
      const scanned = fromCli.filter((f) => f.resourceId.toLowerCase() === CHAT.toLowerCase());
      assert.deepEqual(verdicts(records), verdicts(scanned));
    });
  });
});
