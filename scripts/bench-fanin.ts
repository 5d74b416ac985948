import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { createAzureClients, developmentCredential } from '../src/collect/clients.js';
import { defaultPolicy } from '../src/config/policy.js';
import { planOf } from '../src/scan.js';
import { enqueueShards, parseShardMessage, runShard, SHARD_QUEUE } from '../src/shards.js';
import { startAzurite } from '../src/simulator/azurite.js';
import { generateTenant } from '../src/simulator/generate.js';
import { startArmSimulator } from '../src/simulator/server.js';
import { BlobLease, JsonBlobs } from '../src/store/json.js';
import type { ScanDocument } from '../src/store/scanDocument.js';
import { type CommitRun, count, fmt, markdownTable, measuredRun } from './lib/benchmark.js';

/**
 * The fan-in commit alone (issue 17): a fanned-out scan of N accounts (default 100,000 over 5,000
 * subscriptions: 17 shards of ≤ 300) with every part written and the scan not committed, then
 * `commitShardedScan` timed in a fresh process (scripts/bench-commit.ts) under the heap cap of our
 * scan runs: wall time, peak RSS, findings committed. A second row adds the Function App's
 * after-commit step (the digest without webhooks, then the accounts' states), since a fanned-out
 * scan refreshes the states. Prints a table; asserts nothing.
 *
 *   npm run bench:fanin [-- --accounts 100000] [-- --subscriptions 5000] [-- --max-old-space-mib 384]
 *                       [-- --deep] [-- --verbose]
 *
 * The setup is not timed: Azurite (Blob and Queue) from node_modules on a loopback port; the HTTPS
 * ARM simulator in this process with no latency and no quota (the client's pace lifted with it);
 * the plan (scan.ts planOf) stored and its shards queued (shards.ts enqueueShards); every message
 * taken off the queue and run by shards.ts runShard, as the queue worker runs it, while this process
 * holds the scan's commit lock (`scans/{scanId}/shards/commit.lock`, docs/architecture.md), so the
 * worker of the last part finds the commit taken and returns. Each measured row then commits its
 * own copy of the parts, in a container of its own without the lock and without a previous scan.
 */
const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100000' },
    subscriptions: { type: 'string', default: '5000' },
    /** V8 heap cap of the commit's process (MiB), as `npm run bench` caps our scan runs; 0: V8's default. */
    'max-old-space-mib': { type: 'string', default: '384' },
    /** Plan the scan with deep inspection on (perimeter configurations read by the shards). */
    deep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    /** Skip the row with the account-state sync (at 100,000 accounts it takes many minutes against Azurite). */
    'no-state-sync': { type: 'boolean', default: false },
  },
});
const accounts = Number(values.accounts);
const subscriptions = Number(values.subscriptions);
const commitMain = join(dirname(fileURLToPath(import.meta.url)), 'bench-commit.js');
/** How long the shards may take before the scan is committed as partial: the setting's default (120 min). */
const SHARD_TIMEOUT_MS = 120 * 60_000;
/** The measured rows: each commits its own copy of the scan. */
const ROWS = [
  { container: 'fanin-commit', run: 'commit', args: [] as string[] },
  ...(values['no-state-sync'] ? [] : [{ container: 'fanin-commit-states', run: 'commit + account-state sync', args: ['--after-commit'] }]),
];

const setupStarted = performance.now();
const progress = (m: string) => process.stderr.write(`fan-in ${((performance.now() - setupStarted) / 1000).toFixed(1)}s: ${m}\n`);
const log = values.verbose ? progress : () => {};
process.stderr.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`);
progress(`${count(accounts)} accounts / ${count(subscriptions)} subscriptions: starting Azurite and the simulator`);
const azurite = await startAzurite(60_000, { queue: true });
try {
  const sim = await startArmSimulator({ tenant: generateTenant({ accounts, subscriptions }) });
  let scanId: string;
  let shards: number;
  let partBytes = 0;
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  try {
    const clients = createAzureClients({
      armEndpoint: sim.url,
      credential: developmentCredential(sim.url),
      caCertificates: sim.caCertificate,
      // The simulator enforces no quota here: the setup need not keep Resource Graph's pace.
      throttle: { window: { limit: 1_000_000, windowMs: 1000 } },
    });
    const scope = { subscriptions: [], managementGroups: [] };
    const planned = await planOf({ scope, policy: defaultPolicy(), deepInspection: values.deep, clients }, new Date(), log);
    scanId = planned.plan.scanId;
    shards = planned.plan.shards.length;
    const setup = service.getContainerClient('fanin-setup');
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(SHARD_QUEUE);
    await enqueueShards({ planned, container: setup, queue, timeoutMs: SHARD_TIMEOUT_MS, log });
    // The commit lock held as another worker committing would hold it: each shard's worker writes its
    // part, and the one that sees every part present finds the commit taken.
    const lock = await new BlobLease(new JsonBlobs(setup), `scans/${scanId}/shards/commit.lock`).acquire({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    if (!lock.acquired) throw new Error(`the commit lock of scan ${scanId} is held`);
    progress(`scan ${scanId} planned: ${shards} shard(s); running them`);
    for (;;) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 3600 });
      if (receivedMessageItems.length === 0) break;
      for (const item of receivedMessageItems) {
        const message = parseShardMessage(item.messageText);
        if ('error' in message) throw new Error(message.error);
        const ran = await runShard(message, { container: setup, log, clients });
        if (ran !== 'scanned') throw new Error(`shard ${message.shard}: ${ran}, not scanned`);
        progress(`shard ${message.shard} of ${shards} written`);
        await queue.deleteMessage(item.messageId, item.popReceipt);
      }
    }
    if (await setup.getBlobClient(`scans/${scanId}/scan.json`).exists()) throw new Error(`the setup committed scan ${scanId}`);
    for (const row of ROWS) partBytes = await copyWithoutLock(setup, service.getContainerClient(row.container), `scans/${scanId}/shards/commit.lock`);
  } finally {
    await sim.close();
  }
  progress(`setup done (not timed): every part written, scan ${scanId} not committed`);

  const heapMiB = Number(values['max-old-space-mib']);
  const rows: string[][] = [];
  for (const row of ROWS) {
    progress(`measuring: ${row.run}`);
    const { code, signal, result } = await measuredRun<CommitRun>(
      commitMain,
      ['--container', row.container, '--scan-id', scanId, ...row.args, ...(values.verbose ? ['--verbose'] : [])],
      { heapMiB, env: { BENCH_STORAGE_CONNECTION_STRING: azurite.connectionString } },
    );
    const tenant = `${count(accounts)} / ${count(subscriptions)}`;
    if (!result) {
      rows.push([tenant, String(shards), row.run, `exited with ${code ?? signal}`, '—', '—', '—', '—', '—']);
      continue;
    }
    const scan = result.outcome === 'committed' ? await new JsonBlobs(service.getContainerClient(row.container)).value<ScanDocument>(`scans/${scanId}/scan.json`) : undefined;
    const t = scan?.summary.byOutcome;
    rows.push([
      tenant,
      String(shards),
      result.outcome === 'committed' ? row.run : `${row.run} (${result.outcome})`,
      fmt(result.wallMs / 1000),
      fmt(result.afterCommitMs === undefined ? undefined : result.afterCommitMs / 1000),
      fmt(result.stateSyncMs === undefined ? undefined : result.stateSyncMs / 1000),
      String(result.peakRssMiB),
      count(t ? t.pass + t.fail + t.unknown + t.not_applicable : undefined),
      result.afterCommitError ? `failed: ${result.afterCommitError}` : count(result.statesWritten),
    ]);
  }
  console.log(markdownTable(['accounts / subscriptions', 'shards', 'run', 'wall (s)', 'of which after-commit (s)', 'of which state writes (s)', 'peak RSS (MiB)', 'findings committed', 'account states written'], rows));
  console.log(`\ncommit runs: node --max-old-space-size=${heapMiB} (0 = V8's default), commitShardedScan alone in a fresh process; deep inspection ${values.deep ? 'on' : 'off'}`);
  console.log(`parts: ${shards}, their NDJSON files ${fmt(partBytes / 2 ** 20)} MiB together; Azurite (Blob, in memory) on loopback; no previous scan, so no changes are computed`);
} finally {
  await azurite.stop();
}

/**
 * Copies every blob of `from` but `except` into `to` (server-side), so a row commits its own copy.
 * @returns the bytes of the NDJSON files copied (the parts' findings, and their states where a part keeps them so)
 */
async function copyWithoutLock(from: ContainerClient, to: ContainerClient, except: string): Promise<number> {
  await to.createIfNotExists();
  let ndjsonBytes = 0;
  for await (const blob of from.listBlobsFlat()) {
    if (blob.name === except) continue;
    await (await to.getBlobClient(blob.name).beginCopyFromURL(from.getBlobClient(blob.name).url)).pollUntilDone();
    if (blob.name.endsWith('.ndjson')) ndjsonBytes += blob.properties.contentLength ?? 0;
  }
  return ndjsonBytes;
}
