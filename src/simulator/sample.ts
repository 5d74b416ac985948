import type { CloudName } from '../domain/snapshot.js';
import { fileURLToPath } from 'node:url';
import type { ScanScope } from '../collect/collector.js';
import { createAzureClients, developmentCredential } from '../collect/clients.js';
import type { ThrottleOptions } from '../collect/throttle.js';
import { defaultPolicy, type Policy } from '../config/policy.js';
import type { ReportFormat } from '../reports/index.js';
import { runScan, type ScanOptions, type ScanResult } from '../scan.js';
import type { ScanStore } from '../store/stores.js';
import { type ArmSimulator, loadTenant, type SimulatorOptions, type SimulatorTenant, startArmSimulator } from './server.js';

/**
 * The sample tenant (the README's demo tenant): raw ARM JSON fixtures in `tenants/sample/` beside
 * this module. Resolved from this module's own location, so it is the source folder under vitest and
 * `dist/src/simulator/tenants/sample/` when compiled (`npm run build` copies it there: scripts/assets.mjs).
 */
export const SAMPLE_TENANT_DIR = fileURLToPath(new URL('./tenants/sample/', import.meta.url));

export function sampleTenant(): Promise<SimulatorTenant> {
  return loadTenant(SAMPLE_TENANT_DIR);
}

/** A quota too large to matter, for runs that are not about pacing. */
const GENEROUS_QUOTA = { limit: 10_000, windowMs: 5000, enforce: false, retryAfter: true };

/** Starts the simulator (default: the sample tenant, quota not enforced), runs `fn`, and closes it. */
export async function withSimulator<T>(
  options: Partial<SimulatorOptions>,
  fn: (sim: ArmSimulator) => Promise<T>,
): Promise<T> {
  const sim = await startArmSimulator({
    tenant: options.tenant ?? (await sampleTenant()),
    quota: GENEROUS_QUOTA,
    ...options,
  });
  try {
    return await fn(sim);
  } finally {
    await sim.close();
  }
}

/**
 * Runs the real scan through the SDK clients against a simulator. Retry waits are shortened and the
 * client-side window widened unless `throttle` says otherwise, so only runs about pacing pay for pacing.
 */
export async function scanSimulator(
  sim: ArmSimulator,
  o: {
    scope?: Partial<ScanScope>;
    policy?: Policy;
    stores?: ScanStore[];
    pageSize?: number;
    throttle?: ThrottleOptions;
    formats?: readonly ReportFormat[];
    afterCommit?: ScanOptions['afterCommit'];
    /** The scan's clock (its ID and times); default the real one. */
    now?: () => Date;
    /** The cloud scanned (the data sources' FQDN suffixes); default the public one. */
    cloud?: CloudName;
  } = {},
): Promise<ScanResult> {
  const clients = createAzureClients({
    armEndpoint: sim.url,
    credential: developmentCredential(sim.url),
    caCertificates: sim.caCertificate,
    throttle: { baseDelayMs: 5, window: { limit: 10_000, windowMs: 5000 }, ...o.throttle },
    ...(o.pageSize ? { pageSize: o.pageSize } : {}),
  });
  return runScan({
    scope: { subscriptions: [], managementGroups: [], ...o.scope },
    policy: o.policy ?? defaultPolicy(),
    clients,
    stores: o.stores ?? [],
    ...(o.formats ? { formats: o.formats } : {}),
    ...(o.afterCommit ? { afterCommit: o.afterCommit } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.cloud ? { cloud: o.cloud } : {}),
    retainFindings: true,
  });
}
