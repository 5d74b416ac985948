import { parseArgs } from 'node:util';
import { generateTenant } from './generate.js';
import { startArmSimulator } from './server.js';

/**
 * The ARM simulator as a process of its own, serving a generated tenant, so that a benchmark's
 * peak memory is the scanner's alone (`npm run bench`). To try the CLI by hand, use
 * `perimeter-auditor simulate` (src/simulate.ts): the sample tenant, faults, and the lines to paste.
 */
const USAGE = `node dist/src/simulator/main.js [--accounts N] [--subscriptions N] [--latency-ms N] [--transfer-bytes-per-ms N]
                                [--quota] [--arm-bucket]

The benchmarks' simulator process; to try the CLI by hand, run \`perimeter-auditor simulate\` instead
(the sample tenant or a generated one, faults, and the lines to paste).

Serves a generated tenant (default 1000 accounts in 10 subscriptions) over HTTPS on a loopback port.
Prints one JSON line {"url","caFile","accounts","subscriptions"} on stdout when listening; exits when
stdin closes or on SIGTERM. Scan it with:
  NODE_EXTRA_CA_CERTS=<caFile> npx perimeter-auditor scan --arm-endpoint <url> --output DIR

  --latency-ms N              added to every response (default 0)
  --transfer-bytes-per-ms N   response bodies take size / N ms more (default 0: no transfer cost)
  --quota                     enforce Resource Graph's quota: 15 queries per 5 s, 429 beyond
  --arm-bucket                ARM reads per subscription: a 250-token bucket refilled at 25 per second
`;
const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    accounts: { type: 'string', default: '1000' },
    subscriptions: { type: 'string', default: '10' },
    'latency-ms': { type: 'string', default: '0' },
    'transfer-bytes-per-ms': { type: 'string', default: '0' },
    quota: { type: 'boolean', default: false },
    'arm-bucket': { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
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
