import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { count, fmt, leastPages, markdownTable, measuredRun, QUERIES_PER_SECOND, type QueryPlan, queryPlanTable, type RunResult } from './lib/benchmark.js';

/**
 * The scale benchmark (issue: scale): generated tenants served by the HTTPS ARM simulator in its
 * own process, with latency, transfer time by size, Resource Graph's quota enforced (15 queries per
 * 5 s, 429 beyond) and ARM's per-subscription read bucket (250, refilled 25 per second). Each run is
 * a separate process (scripts/bench-run.ts) so its peak RSS is its own. Prints a table; asserts nothing.
 *
 *   npm run bench [-- --sizes 1000:10,10000:500,100000:5000] [-- --baseline-max 10000]
 *                 [-- --latency-ms 100] [-- --transfer-bytes-per-ms 10000] [-- --fanin 100000[:5000]]
 *
 * quota floor = Resource Graph queries ÷ 3 per second: no client of one user can finish sooner.
 * least-pages floor = the least pages the scan's rows need (scan.json stats.queryPlan) ÷ 3 per
 * second: the floor of any query plan over the same rows. Under the table, each run's query plan.
 * `--fanin ACCOUNTS[:SUBSCRIPTIONS]` then runs the fan-in commit alone (scripts/bench-fanin.ts).
 */
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000:10,10000:500,100000:5000' },
    'baseline-max': { type: 'string', default: '10000' },
    'deep-max': { type: 'string', default: '10000' },
    'latency-ms': { type: 'string', default: '100' },
    'transfer-bytes-per-ms': { type: 'string', default: '10000' },
    /** V8 heap cap for our runs (MiB), as a Function App instance's memory would impose. */
    'max-old-space-mib': { type: 'string', default: '384' },
    /** After the table, the fan-in commit of a fanned-out scan of this many accounts (`N` or `N:subscriptions`). */
    fanin: { type: 'string' },
  },
});
const here = dirname(fileURLToPath(import.meta.url));
const simMain = join(here, '..', 'src', 'simulator', 'main.js');
const runMain = join(here, 'bench-run.js');
const faninMain = join(here, 'bench-fanin.js');

interface Simulator {
  url: string;
  caFile: string;
  stop(): Promise<void>;
}

async function startSimulator(accounts: number, subscriptions: number): Promise<Simulator> {
  const child = spawn(process.execPath, [simMain, '--accounts', String(accounts), '--subscriptions', String(subscriptions),
    '--latency-ms', values['latency-ms'], '--transfer-bytes-per-ms', values['transfer-bytes-per-ms'], '--quota', '--arm-bucket'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const [first] = (await once(lines, 'line')) as [string];
  const info = JSON.parse(first) as { url: string; caFile: string };
  return {
    ...info,
    async stop() {
      child.stdin.end();
      await once(child, 'exit');
    },
  };
}

async function run(sim: Simulator, mode: 'ours' | 'baseline', deep: boolean): Promise<RunResult> {
  const { code, signal, result } = await measuredRun<RunResult>(runMain, ['--mode', mode, '--url', sim.url, ...(deep ? ['--deep'] : [])], {
    heapMiB: mode === 'ours' ? Number(values['max-old-space-mib']) : 0,
    env: { NODE_EXTRA_CA_CERTS: sim.caFile },
  });
  if (!result) throw new Error(`${mode} run exited with ${code ?? signal}`);
  return result;
}

const rows: string[][] = [];
const queryPlans: Array<{ run: string; plan: QueryPlan | undefined }> = [];
const baselineMax = Number(values['baseline-max']);
const deepMax = Number(values['deep-max']);
process.stderr.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`);
for (const size of values.sizes.split(',')) {
  const [accounts = 0, subscriptions = 0] = size.split(':').map(Number);
  process.stderr.write(`tenant ${accounts} accounts / ${subscriptions} subscriptions: starting the simulator\n`);
  const sim = await startSimulator(accounts, subscriptions);
  try {
    const plans: Array<{ deep: boolean }> = [{ deep: false }, ...(accounts <= deepMax ? [{ deep: true }] : [])];
    let oursWall: number | undefined;
    const results: Array<{ deep: boolean; r: RunResult }> = [];
    for (const plan of plans) {
      process.stderr.write(`  ours, deep inspection ${plan.deep ? 'on' : 'off'}\n`);
      const r = await run(sim, 'ours', plan.deep);
      if (!plan.deep) oursWall = r.wallMs;
      results.push({ deep: plan.deep, r });
    }
    let base: RunResult | undefined;
    if (accounts <= baselineMax) {
      process.stderr.write('  baseline (per-subscription listing, per-account reads)\n');
      base = await run(sim, 'baseline', false);
    }
    const tenant = `${count(accounts)} / ${count(subscriptions)}`;
    for (const { deep, r } of results) {
      const run = `ours, deep ${deep ? 'on' : 'off'}`;
      const floorS = r.graphQueries / QUERIES_PER_SECOND;
      const least = leastPages(r.queryPlan);
      const leastS = least === undefined ? undefined : least / QUERIES_PER_SECOND;
      const wallS = r.wallMs / 1000;
      rows.push([
        tenant,
        run,
        fmt(wallS),
        fmt(r.firstFindingMs === undefined ? undefined : r.firstFindingMs / 1000),
        String(r.graphQueries),
        String(r.armCalls),
        String((r.graphThrottled ?? 0) + r.armThrottled),
        String(r.peakRssMiB),
        count((r.findings ?? 0) / wallS),
        fmt(floorS),
        fmt(wallS / floorS, 2),
        fmt(leastS),
        fmt(leastS === undefined ? undefined : wallS / leastS, 2),
        base && !deep ? fmt(base.wallMs / 1000) : '—',
        base && !deep && oursWall ? `${fmt(base.wallMs / oursWall)}×` : '—',
      ]);
      queryPlans.push({ run: `${tenant}, ${run}`, plan: r.queryPlan });
    }
    if (base) {
      rows.push([tenant, 'baseline', fmt(base.wallMs / 1000), '—', '0', String(base.armCalls), String(base.armThrottled), String(base.peakRssMiB), '—', '—', '—', '—', '—', fmt(base.wallMs / 1000), '1×']);
    }
  } finally {
    await sim.stop();
  }
}
const header = [
  'accounts / subscriptions', 'run', 'wall (s)', 'time to first finding (s)', 'ARG queries', 'ARM calls', '429s', 'peak RSS (MiB)', 'findings/s',
  'quota floor (s)', 'wall ÷ floor', 'least-pages floor (s)', 'wall ÷ least floor', 'baseline (s)', 'baseline ÷ ours',
];
console.log(markdownTable(header, rows));
console.log(`\nour runs: node --max-old-space-size=${values['max-old-space-mib']} (0 = V8's default)`);
console.log(`simulated latency ${values['latency-ms']} ms per request + body size ÷ ${values['transfer-bytes-per-ms']} bytes/ms; Resource Graph quota 15 queries / 5 s enforced; ARM reads 250-token bucket, 25/s per subscription`);
console.log('quota floor = Resource Graph queries ÷ 3 per second; least-pages floor = the least pages the rows read need (Σ least pages of the query plan) ÷ 3 per second');
for (const { run, plan } of queryPlans) console.log(`\nquery plan, ${run}:\n${queryPlanTable(plan)}`);

if (values.fanin) {
  const [faninAccounts = '', faninSubscriptions] = values.fanin.split(':');
  // Without a subscription count, the tenant's shape of the 100,000-account row: 20 accounts a subscription.
  const args = ['--accounts', faninAccounts, '--subscriptions', faninSubscriptions ?? String(Math.max(1, Math.round(Number(faninAccounts) / 20))), '--max-old-space-mib', values['max-old-space-mib']];
  console.log('');
  const child = spawn(process.execPath, [faninMain, ...args], { stdio: 'inherit' });
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) throw new Error(`the fan-in run exited with ${code}`);
}
