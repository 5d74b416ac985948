/**
 * TEST-ONLY fault injection: lets a test kill the process at a named point of a scan, so a crash
 * test chooses where the crash lands instead of racing a timer against the machine's speed.
 *
 *   PERIMETER_AUDITOR_FAULT=<phase>[:N]
 *
 * When set, the Nth time (default the first) the scan passes `phase`, the process sends itself
 * SIGKILL: no `finally`, no flush, no exit handler runs, as when the host or the OOM killer ends
 * it. Phases, in the order a scan passes them:
 *
 * - `collection`: a shard's accounts read from Resource Graph, none evaluated yet (collect/collector.ts)
 * - `evaluation`: after the Nth account's findings reached the shard's findings file (pipeline/shard.ts)
 * - `upload`: after the Nth file of `scans/{scanId}/` was written to Blob: the artifacts
 *   (findings.ndjson, the reports) in order, then scan.json (store/stores.ts)
 * - `before-latest`: every scan file written, `latest.json` not yet
 * - `after-latest`: `latest.json` written (the commit point), before the after-commit steps
 *
 * Never set it outside tests: a deployment that sets it kills its own scans. The variable is read
 * at each point (no state at import) and unknown phases are ignored.
 */

export const FAULT_VARIABLE = 'PERIMETER_AUDITOR_FAULT';

export const FAULT_PHASES = ['collection', 'evaluation', 'upload', 'before-latest', 'after-latest'] as const;
export type FaultPhase = (typeof FAULT_PHASES)[number];

const passes = new Map<FaultPhase, number>();

/** A point a scan passes; kills the process when PERIMETER_AUDITOR_FAULT names it (test-only). */
export function faultPoint(phase: FaultPhase): void {
  const spec = process.env[FAULT_VARIABLE];
  if (!spec) return;
  const [name, nth = '1'] = spec.split(':');
  if (name !== phase) return;
  const count = (passes.get(phase) ?? 0) + 1;
  passes.set(phase, count);
  if (count === Number(nth)) process.kill(process.pid, 'SIGKILL');
}
