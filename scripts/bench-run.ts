import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import { ServiceClient } from '@azure/core-client';
import { createPipelineRequest, type PipelinePolicy } from '@azure/core-rest-pipeline';
import pLimit from 'p-limit';
import { createAzureClients, developmentCredential } from '../src/collect/clients.js';
import { defaultPolicy } from '../src/config/policy.js';
import { runScan } from '../src/scan.js';
import { DirectoryStore } from '../src/store/stores.js';
import { peakRssMiB, queryPlanTable, type RunResult } from './lib/benchmark.js';

/**
 * One measured run of `npm run bench`, in a process of its own so that its peak RSS is its own.
 * Prints one JSON line on stdout.
 *
 *   --mode ours      the scan (runScan: Resource Graph, streamed findings, every report format, a directory store);
 *                    also when the first account's findings were written, and scan.json's query plan
 *                    (printed as a table on stderr with --verbose)
 *   --mode baseline  how per-subscription scanners work: list subscriptions, then per subscription list
 *                    accounts through the Cognitive Services client and, for each account (8 in flight),
 *                    read its perimeter configurations and its identity's role assignments. Collection only:
 *                    it evaluates nothing, so its time is a lower bound for such a scanner.
 *
 * The simulator's certificate is trusted through NODE_EXTRA_CA_CERTS (set by the caller).
 */
const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'ours' },
    url: { type: 'string' },
    deep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
const url = values.url ?? '';
if (!url) throw new Error('--url is required');
const credential = developmentCredential(url);

async function ours(): Promise<RunResult> {
  const clients = createAzureClients({ armEndpoint: url, credential });
  const dir = await mkdtemp(join(tmpdir(), 'perimeter-auditor-bench-'));
  try {
    const policy = defaultPolicy();
    const started = performance.now();
    let firstFindingMs: number | undefined;
    const { scan } = await runScan({
      scope: { subscriptions: [], managementGroups: [] },
      policy,
      deepInspection: values.deep,
      clients,
      stores: [new DirectoryStore(dir)],
      onFirstFindings: () => (firstFindingMs = performance.now() - started),
      ...(values.verbose ? { log: (m: string) => process.stderr.write(`${((performance.now() - started) / 1000).toFixed(1)}s rss ${Math.round(process.memoryUsage().rss / 2 ** 20)}MiB ${m}\n`) } : {}),
    });
    const wallMs = performance.now() - started;
    const t = scan.summary.byOutcome;
    const { queryPlan } = scan.stats;
    if (values.verbose) process.stderr.write(`query plan:\n${queryPlanTable(queryPlan)}\n`);
    return {
      wallMs,
      accounts: scan.coverage.accounts,
      findings: t.pass + t.fail + t.unknown + t.not_applicable,
      ...(firstFindingMs === undefined ? {} : { firstFindingMs }),
      graphQueries: clients.graphStats.requests,
      graphThrottled: clients.graphStats.throttled,
      armCalls: clients.armStats.requests,
      armThrottled: clients.armStats.throttled,
      peakRssMiB: peakRssMiB(),
      ...(queryPlan ? { queryPlan } : {}),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function baseline(): Promise<RunResult & { configurations: number; assignments: number }> {
  const counter = { requests: 0, throttled: 0 };
  const counting: PipelinePolicy = {
    name: 'benchCounter',
    async sendRequest(request, next) {
      counter.requests += 1;
      const response = await next(request);
      if (response.status === 429) counter.throttled += 1;
      return response;
    },
  };
  // The SDK's own retry policy (429 with Retry-After is honoured), as scripts use it.
  const options = {
    endpoint: url,
    credentialScopes: ['https://management.azure.com/.default'],
    additionalPolicies: [{ policy: counting, position: 'perRetry' as const }],
  };
  const arm = new ServiceClient({ ...options, credential });
  const getJson = async (path: string): Promise<{ value?: Array<Record<string, unknown>>; nextLink?: string }> => {
    const response = await arm.sendRequest(createPipelineRequest({ url: path.startsWith('https:') ? path : `${url}${path}`, method: 'GET' }));
    if (response.status !== 200) throw new Error(`HTTP ${response.status} for ${path}`);
    return JSON.parse(response.bodyAsText ?? '{}') as { value?: Array<Record<string, unknown>>; nextLink?: string };
  };
  const started = performance.now();
  const subscriptions = ((await getJson('/subscriptions?api-version=2022-12-01')).value ?? []).map((s) => String(s.subscriptionId));
  let accounts = 0;
  let configurations = 0;
  let assignments = 0;
  const limit = pLimit(8);
  for (const sub of subscriptions) {
    const client = new CognitiveServicesManagementClient(credential, sub, { ...options, apiVersion: '2024-10-01' });
    const list = [];
    for await (const account of client.accounts.list()) list.push(account);
    accounts += list.length;
    await Promise.all(
      list.map((account) =>
        limit(async () => {
          const rg = /\/resourceGroups\/([^/]+)\//i.exec(account.id ?? '')?.[1] ?? '';
          for await (const _ of client.networkSecurityPerimeterConfigurations.list(rg, account.name ?? '')) configurations += 1;
          const principal = account.identity?.principalId;
          if (principal) {
            const filter = encodeURIComponent(`principalId eq '${principal}'`);
            assignments += (await getJson(`/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=${filter}`)).value?.length ?? 0;
          }
        }),
      ),
    );
  }
  const wallMs = performance.now() - started;
  const armCalls = counter.requests;
  return { wallMs, accounts, configurations, assignments, armCalls, armThrottled: counter.throttled, graphQueries: 0, peakRssMiB: peakRssMiB() };
}

const result = values.mode === 'baseline' ? await baseline() : await ours();
process.stdout.write(`${JSON.stringify(result)}\n`);
