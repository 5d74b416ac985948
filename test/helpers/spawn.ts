import { ENTRY } from './paths.js';
import { type NodeRun, type RunningNode, runNode, startNode } from '../../scripts/lib/spawn.js';

/** The spawn helper is shared with the scripts (scripts/lib/spawn.ts); the CLI's entry point is the tests'. */
export { type NodeRun, runNode } from '../../scripts/lib/spawn.js';

/** Runs the compiled CLI (`perimeter-auditor ...args`) to its end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<NodeRun> {
  return runNode(ENTRY.cli, args, { env });
}

export { type RunningNode } from '../../scripts/lib/spawn.js';

/** Starts the compiled CLI (`perimeter-auditor ...args`) and leaves it running (`simulate`). */
export function startCli(args: readonly string[], env: Record<string, string> = {}): RunningNode {
  return startNode(ENTRY.cli, args, { env });
}
