import type { ArmReader } from '../../src/collect/armReads.js';
import { createAzureClients, developmentCredential } from '../../src/collect/clients.js';
import type { ScanScope } from '../../src/collect/collector.js';
import type { ThrottleOptions } from '../../src/collect/throttle.js';
import { defaultPolicy, type Policy } from '../../src/config/policy.js';
import type { Finding } from '../../src/domain/rule.js';
import type { ReportFormat } from '../../src/reports/index.js';
import { runScan, type ScanOptions, type ScanResult } from '../../src/scan.js';
import type { ScanStore } from '../../src/store/stores.js';
import { sampleTenant } from '../../src/simulator/sample.js';
import { type ArmSimulator, type SimulatorOptions, startArmSimulator } from '../../src/simulator/server.js';

export const SUB_PROD = '6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f';
export const SUB_DEV = '8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d';
export const SUB_FORBIDDEN = 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f';

export { sampleTenant };

/** A quota too large to matter, for tests that are not about pacing. */
const GENEROUS_QUOTA = { limit: 10_000, windowMs: 5000, enforce: false, retryAfter: true };

/** Starts the simulator, runs `fn`, and closes it. */
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
 * client-side window widened unless `throttle` says otherwise, so only pacing tests pay for pacing.
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
    retainFindings: true,
  });
}

/** The ARM reader of SDK clients pointed at a simulator, with short retry waits. */
export function simulatorArm(sim: ArmSimulator): ArmReader {
  return createAzureClients({
    armEndpoint: sim.url,
    credential: developmentCredential(sim.url),
    caCertificates: sim.caCertificate,
    throttle: { baseDelayMs: 1, maxAttempts: 2 },
  }).arm;
}

/** The finding for an account name and rule ID. @throws when absent. */
export function finding(findings: readonly Finding[], accountName: string, ruleId: string): Finding {
  const f = findings.find((x) => x.accountName === accountName && x.ruleId === ruleId);
  if (!f) throw new Error(`no finding for ${accountName} ${ruleId}`);
  return f;
}

/** Outcomes keyed `account/rule`, for comparing two scans. */
export function outcomes(findings: readonly Finding[]): Record<string, string> {
  return Object.fromEntries(findings.map((f) => [`${f.accountName}/${f.ruleId}`, f.outcome]));
}
