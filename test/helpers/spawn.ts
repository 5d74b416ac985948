import { ENTRY } from './paths.js';
import { type NodeRun, runNode } from '../../scripts/lib/spawn.js';

/** The spawn helper is shared with the scripts (scripts/lib/spawn.ts); the CLI's entry point is the tests'. */
export { type NodeRun, runNode } from '../../scripts/lib/spawn.js';

/** Runs the compiled CLI (`perimeter-auditor ...args`) to its end. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<NodeRun> {
  return runNode(ENTRY.cli, args, { env });
}
