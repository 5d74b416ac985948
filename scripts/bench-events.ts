import { cpus } from 'node:os';
import { BlobServiceClient } from '@azure/storage-blob';
import { AlertLedger, BlobKeyValueStore } from '../src/alerts/ledger.js';
import { createAzureClients, developmentCredential } from '../src/collect/clients.js';
import { defaultPolicy } from '../src/config/policy.js';
import { evaluateChange } from '../src/events/evaluateChange.js';
import { parseEvent } from '../src/events/parse.js';
import { afterScanCommit } from '../src/events/scanState.js';
import { StateStore } from '../src/store/accountState.js';
import { runScan } from '../src/scan.js';
import { BlobStore } from '../src/store/stores.js';
import { startAzurite } from '../src/simulator/azurite.js';
import { sampleTenant } from '../src/simulator/sample.js';
import { startArmSimulator } from '../src/simulator/server.js';

/**
 * Change-event benchmark: N events (default 1,000) of the kinds `resourceChanged` handles, against
 * the ARM simulator with per-request latency (default 30 ms) and Azurite, after a scan seeded the
 * state. Prints p50/p95/p99 from event received to state written and transitions emitted, and ARM
 * calls per event by kind.
 *
 *   npm run bench:events [-- --events 1000] [-- --latency 30] [-- --concurrency 8]
 */

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = arg('events', 1000);
const LATENCY = arg('latency', 30);
const CONCURRENCY = arg('concurrency', 8);

const tenant = await sampleTenant();
const azurite = await startAzurite();
const sim = await startArmSimulator({ tenant, latencyMs: LATENCY, quota: { limit: 100_000, windowMs: 5000, enforce: false, retryAfter: true } });

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

try {
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('bench-events');
  const state = new StateStore(container);
  const ledger = new AlertLedger(new BlobKeyValueStore(container));
  const clients = () => createAzureClients({ armEndpoint: sim.url, credential: developmentCredential(sim.url), caCertificates: sim.caCertificate });
  await runScan({
    scope: { subscriptions: [], managementGroups: [] },
    policy: defaultPolicy(),
    clients: clients(),
    stores: [new BlobStore(container)],
    formats: [],
    afterCommit: (c) => afterScanCommit(c, { state, webhooks: [], ledger, log: () => {} }),
  });

  const str = (v: unknown) => String(v);
  const accounts = tenant.resources.filter((r) => str(r.type) === 'microsoft.cognitiveservices/accounts' && !str(r.id).includes('c3d4e5f6')).map((r) => str(r.id));
  const associations = tenant.networkresources.filter((r) => str(r.type).endsWith('/resourceassociations')).map((r) => str(r.id));
  const rules = tenant.networkresources.filter((r) => str(r.type).endsWith('/accessrules')).map((r) => str(r.id));
  const assignments = tenant.authorizationresources.map((r) => str(r.id));
  const kinds: Array<[string, string, string[], number]> = [
    ['account', 'Microsoft.CognitiveServices/accounts/write', accounts, 0.4],
    ['association', 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations/write', associations, 0.2],
    ['accessRule', 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/write', rules, 0.15],
    ['roleAssignment', 'Microsoft.Authorization/roleAssignments/write', assignments, 0.15],
    ['unrelated', 'Microsoft.Compute/virtualMachines/write', ['/subscriptions/6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1'], 0.1],
  ];
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const events = Array.from({ length: EVENTS }, (_, i) => {
    let r = random();
    const kind = kinds.find((k) => (r -= k[3]) < 0) ?? kinds[0];
    const [name, op, subjects] = kind ?? ['account', '', accounts];
    const subject = subjects[Math.floor(random() * subjects.length)] ?? '';
    const parsed = parseEvent({ id: `bench-${i}`, eventType: 'Microsoft.Resources.ResourceWriteSuccess', subject, eventTime: new Date().toISOString(), data: { operationName: op } });
    if (!parsed.ok) throw new Error(parsed.reason);
    return { name, event: parsed.event };
  });

  const latencies: number[] = [];
  const armByKind = new Map<string, number[]>();
  let transitions = 0;
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const { arm } = clients();
      for (;;) {
        const i = next++;
        const item = events[i];
        if (!item) return;
        const before = arm.requests;
        const t0 = process.hrtime.bigint();
        const result = await evaluateChange(item.event, { arm, state, container, policy: defaultPolicy(), webhooks: [], ledger });
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        transitions += result.transitions.length;
        const list = armByKind.get(item.name) ?? [];
        list.push(arm.requests - before);
        armByKind.set(item.name, list);
      }
    }),
  );
  const wall = Date.now() - started;
  latencies.sort((a, b) => a - b);
  console.log(`${EVENTS} events, ${CONCURRENCY} concurrent, simulator latency ${LATENCY} ms per ARM request; Azurite for state`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
  console.log(`wall ${(wall / 1000).toFixed(1)} s, ${(EVENTS / (wall / 1000)).toFixed(1)} events/s, transitions ${transitions}`);
  console.log(`latency (event received → state written, transitions emitted): p50 ${pct(latencies, 50).toFixed(0)} ms, p95 ${pct(latencies, 95).toFixed(0)} ms, p99 ${pct(latencies, 99).toFixed(0)} ms, max ${(latencies.at(-1) ?? 0).toFixed(0)} ms`);
  console.log('');
  console.log('kind             events   ARM calls/event (mean, max)');
  for (const [name, list] of armByKind) {
    const mean = list.reduce((a, b) => a + b, 0) / list.length;
    console.log(`${name.padEnd(16)} ${String(list.length).padStart(6)}   ${mean.toFixed(1)}, ${Math.max(...list)}`);
  }
} finally {
  await sim.close();
  await azurite.stop();
}
