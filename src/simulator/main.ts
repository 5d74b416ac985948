import { parseArgs } from 'node:util';
import { generateTenant } from './generate.js';
import { startArmSimulator } from './server.js';

/**
 * The ARM simulator as a process of its own, serving a generated tenant, so that a benchmark's
 * peak memory is the scanner's alone. Prints one JSON line `{ url, caFile, accounts, subscriptions }`
 * on stdout when listening; exits when stdin closes or on SIGTERM.
 *
 * Flags: --accounts N --subscriptions N [--latency-ms N] [--transfer-bytes-per-ms N]
 *        [--quota] (enforce 15 queries per 5 s, 429 beyond) [--arm-bucket] (250 reads, 25 per second per subscription)
 */
const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '1000' },
    subscriptions: { type: 'string', default: '10' },
    'latency-ms': { type: 'string', default: '0' },
    'transfer-bytes-per-ms': { type: 'string', default: '0' },
    quota: { type: 'boolean', default: false },
    'arm-bucket': { type: 'boolean', default: false },
  },
});
const tenant = generateTenant({ accounts: Number(values.accounts), subscriptions: Number(values.subscriptions) });
const transfer = Number(values['transfer-bytes-per-ms']);
const sim = await startArmSimulator({
  tenant,
  latencyMs: Number(values['latency-ms']),
  ...(transfer > 0 ? { transferBytesPerMs: transfer } : {}),
  quota: { limit: 15, windowMs: 5000, enforce: values.quota, retryAfter: true },
  ...(values['arm-bucket'] ? { armBucket: { size: 250, refillPerSecond: 25 } } : {}),
  armPageSize: 100,
});
process.stdout.write(`${JSON.stringify({ url: sim.url, caFile: sim.caFile, accounts: Number(values.accounts), subscriptions: tenant.resourcecontainers.length })}\n`);
const stop = () => {
  process.stderr.write(`simulator: ${JSON.stringify(sim.stats)}\n`);
  void sim.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
