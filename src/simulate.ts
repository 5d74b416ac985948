import type { ArmSimulator, SimulatorRequest, SimulatorResponse, SimulatorTenant } from './simulator/server.js';

/**
 * `perimeter-auditor simulate`: the project's HTTPS ARM simulator as a user-facing tool, to try the
 * CLI's flags against a tenant without Azure. One start-up helper (`startSimulation`) serves this
 * command and the demo, so both serve the same tenant the same way: Resource Graph's real quota (15
 * queries per 5 s, 429 with `Retry-After` beyond), a small latency, and the faults asked for.
 * Needs the dev dependencies (`npm ci` in a clone), as the demo does.
 */

/** Which tenant to serve: the README's sample tenant, or a generated one of `accounts` accounts. */
export type TenantChoice = { readonly kind: 'sample' } | { readonly kind: 'generated'; readonly accounts: number };

/**
 * A fault the simulator injects (README "Try it without Azure"):
 * - `graph-429[:N]`: the first N Resource Graph queries (default 3) answer 429 with `Retry-After: 1`
 * - `arm-403:<subscription>`: every ARM read under that subscription (the perimeter configurations
 *   of its accounts) answers 403 AuthorizationFailed
 * - `logs-403`: every Log Analytics query (NSP-07's access logs) answers 403
 * - `slow:<ms>`: every answer is delayed by that many milliseconds (0–60000)
 */
export type Fault
  = | { readonly kind: 'graph-429'; readonly count: number }
    | { readonly kind: 'arm-403'; readonly subscription: string }
    | { readonly kind: 'logs-403' }
    | { readonly kind: 'slow'; readonly ms: number };

/** The fault names `--fault` accepts, with their argument, for help texts. */
export const FAULT_SYNTAX = ['graph-429[:N]', 'arm-403:<subscription>', 'logs-403', 'slow:<ms>'] as const;

/** Thrown for a `--tenant` or `--fault` that cannot be used; the message names the flag and the value. */
export class SimulateUsageError extends Error {}

/**
 * Parses `--tenant`: `sample`, or `generated:N` (N accounts, 1–100000, in one subscription per 100).
 * @throws SimulateUsageError naming the value and what is accepted
 */
export function parseTenantChoice(text: string): TenantChoice {
  if (text === 'sample') return { kind: 'sample' };
  const m = /^generated:(\d{1,6})$/.exec(text);
  const accounts = m ? Number(m[1]) : NaN;
  if (!m || accounts < 1 || accounts > 100_000)
    throw new SimulateUsageError(`--tenant '${text}' is not a tenant: give sample, or generated:N with N accounts from 1 to 100000`);
  return { kind: 'generated', accounts };
}

/**
 * Parses one `--fault`.
 * @throws SimulateUsageError naming the value and the accepted faults
 */
export function parseFault(text: string): Fault {
  const [name, arg] = text.split(/:(.*)/s, 2) as [string, string | undefined];
  const bad = (why: string) => new SimulateUsageError(`--fault '${text}' ${why} (accepted: ${FAULT_SYNTAX.join(', ')})`);
  switch (name) {
    case 'graph-429': {
      if (arg === undefined) return { kind: 'graph-429', count: 3 };
      if (!/^\d{1,4}$/.test(arg) || Number(arg) < 1) throw bad('needs a count of queries from 1 to 9999');
      return { kind: 'graph-429', count: Number(arg) };
    }
    case 'arm-403': {
      const id = (arg ?? '').replace(/^\/subscriptions\//i, '');
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw bad('needs a subscription ID (a GUID)');
      return { kind: 'arm-403', subscription: id.toLowerCase() };
    }
    case 'logs-403':
      if (arg !== undefined) throw bad('takes no argument');
      return { kind: 'logs-403' };
    case 'slow': {
      if (arg === undefined || !/^\d{1,5}$/.test(arg) || Number(arg) > 60_000) throw bad('needs a delay in milliseconds from 0 to 60000');
      return { kind: 'slow', ms: Number(arg) };
    }
    default:
      throw bad('is not a fault');
  }
}

/** A fault in the words of `--fault` (the round trip of `parseFault`). */
export function faultText(fault: Fault): string {
  switch (fault.kind) {
    case 'graph-429':
      return `graph-429:${fault.count}`;
    case 'arm-403':
      return `arm-403:${fault.subscription}`;
    case 'logs-403':
      return 'logs-403';
    case 'slow':
      return `slow:${fault.ms}`;
  }
}

const forbidden = (message: string): SimulatorResponse => ({ status: 403, body: { error: { code: 'AuthorizationFailed', message } } });

/**
 * The simulator's fault hook for `faults`: the first matching fault answers; requests no fault
 * matches are served normally. `slow` is not a hook (it is the simulator's latency).
 */
export function faultHook(faults: readonly Fault[]): ((request: SimulatorRequest) => SimulatorResponse | undefined) | undefined {
  const hooks = faults.filter((f) => f.kind !== 'slow');
  if (hooks.length === 0) return undefined;
  return (request) => {
    for (const f of hooks) {
      if (f.kind === 'graph-429' && request.kind === 'graph' && request.sequence <= f.count)
        return { status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'RateLimiting', message: 'simulated throttling (--fault graph-429)' } } };
      if (f.kind === 'arm-403' && request.kind === 'arm' && request.path.toLowerCase().startsWith(`/subscriptions/${f.subscription}/`))
        return forbidden(`simulated: the caller may not read subscription ${f.subscription} (--fault arm-403)`);
      if (f.kind === 'logs-403' && request.kind === 'logs') return forbidden('simulated: the caller may not query this workspace (--fault logs-403)');
    }
    return undefined;
  };
}

/** A running simulation: the simulator, what it serves, and how to use it. */
export interface Simulation {
  readonly simulator: ArmSimulator;
  readonly tenant: SimulatorTenant;
  /** What is served, in words: `the sample tenant (19 accounts in 3 subscriptions)`. */
  readonly description: string;
  /** The shell lines that scan it: the NODE_EXTRA_CA_CERTS export and a scan command. */
  readonly instructions: string;
  close(): Promise<void>;
}

/** Options of `startSimulation`. */
export interface SimulationOptions {
  readonly tenant: TenantChoice;
  readonly faults?: readonly Fault[];
  /** Added to every answer (ms), on top of a `slow` fault. Default 20 (the demo's). */
  readonly latencyMs?: number;
}

/**
 * Starts the HTTPS ARM simulator on an ephemeral loopback port with the chosen tenant, Resource
 * Graph's quota enforced (15 queries per 5 s) and the faults installed. The demo and `simulate`
 * both start it here.
 * @throws Error when the dev dependencies are missing or the tenant cannot be loaded
 */
export async function startSimulation(o: SimulationOptions): Promise<Simulation> {
  const { startArmSimulator } = await import('./simulator/server.js');
  const faults = o.faults ?? [];
  let tenant: SimulatorTenant;
  if (o.tenant.kind === 'sample') {
    const { sampleTenant } = await import('./simulator/sample.js');
    tenant = await sampleTenant();
  } else {
    const { generateTenant } = await import('./simulator/generate.js');
    tenant = generateTenant({ accounts: o.tenant.accounts, subscriptions: Math.max(1, Math.ceil(o.tenant.accounts / 100)) });
  }
  const slow = faults.reduce((ms, f) => (f.kind === 'slow' ? ms + f.ms : ms), 0);
  const hook = faultHook(faults);
  const simulator = await startArmSimulator({
    tenant,
    latencyMs: (o.latencyMs ?? 20) + slow,
    quota: { limit: 15, windowMs: 5000, enforce: true, retryAfter: true },
    ...(hook ? { fault: hook } : {}),
  });
  const accounts = tenant.resources.filter((r) => String(r.type).toLowerCase() === 'microsoft.cognitiveservices/accounts').length;
  const description = `${o.tenant.kind === 'sample' ? 'the sample tenant' : 'a generated tenant'} (${accounts} accounts in ${tenant.resourcecontainers.length} subscriptions)`;
  const instructions = [
    `export NODE_EXTRA_CA_CERTS=${simulator.caFile}`,
    `npx perimeter-auditor scan --arm-endpoint ${simulator.url} --output ./simulated-output`,
  ].join('\n');
  return { simulator, tenant, description, instructions, close: () => simulator.close() };
}

/**
 * Runs `simulate` until SIGINT or SIGTERM: starts the simulation, prints the endpoint, the
 * `NODE_EXTRA_CA_CERTS` line and a scan command on stdout, then on the signal closes the simulator
 * and prints its request counts on stderr.
 * @returns 0 once closed cleanly
 */
export async function runSimulate(o: SimulationOptions & { readonly log: (message: string) => void }): Promise<number> {
  const sim = await startSimulation(o);
  const faults = o.faults ?? [];
  process.stdout.write(
    [
      `ARM simulator serving ${sim.description} at ${sim.simulator.url}`,
      `faults: ${faults.length ? faults.map(faultText).join(', ') : 'none'}; Resource Graph quota enforced (15 queries per 5 s)`,
      'Scan it from another shell:',
      ...sim.instructions.split('\n').map((l) => `  ${l}`),
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await sim.close();
  const s = sim.simulator.stats;
  o.log(`${signal}: simulator closed after ${s.graphRequests} Resource Graph, ${s.armRequests} ARM and ${s.logsRequests} Log Analytics request(s) (${s.throttled} throttled)`);
  return 0;
}
