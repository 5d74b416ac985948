import type { LogsReader } from '../../src/collect/accessLogs.js';
import type { ArmReader } from '../../src/collect/armReads.js';
import type { ResourceGraphReader } from '../../src/collect/resourceGraph.js';
import { type AzureClients, createAzureClients, developmentCredential } from '../../src/collect/clients.js';
import type { Finding } from '../../src/domain/rule.js';
import type { ArmSimulator } from '../../src/simulator/server.js';

/** The simulator helpers the scripts share live in src/simulator/sample.ts; the tests' own are here. */
export { sampleTenant, scanSimulator, withSimulator } from '../../src/simulator/sample.js';

export const SUB_PROD = '6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f';
export const SUB_DEV = '8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d';
export const SUB_FORBIDDEN = 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f';

/** SDK clients pointed at a simulator: its development token and certificate, short retry waits, no pacing to speak of. */
export function simulatorClients(sim: ArmSimulator): AzureClients {
  return createAzureClients({
    armEndpoint: sim.url,
    credential: developmentCredential(sim.url),
    caCertificates: sim.caCertificate,
    throttle: { baseDelayMs: 1, maxAttempts: 2, window: { limit: 10_000, windowMs: 5000 } },
  });
}

/** The ARM reader of `simulatorClients`. */
export function simulatorArm(sim: ArmSimulator): ArmReader {
  return simulatorClients(sim).arm;
}

/** The Resource Graph reader of `simulatorClients`. */
export function simulatorGraph(sim: ArmSimulator): ResourceGraphReader {
  return simulatorClients(sim).graph;
}

/** The Log Analytics reader of `simulatorClients` (the simulator serves the query API too). */
export function simulatorLogs(sim: ArmSimulator): LogsReader {
  const logs = simulatorClients(sim).logs;
  if (!logs) throw new Error('no Logs reader for the simulator');
  return logs;
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
