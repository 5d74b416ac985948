import { ENTRY } from './paths.js';
import { runNode } from './spawn.js';

export interface Invocation {
  readonly code: number | null;
  readonly logs: Array<{ level: string; message: string }>;
  readonly stderr: string;
}

/** The parent's own scan and audit settings, which a handler test must not inherit. */
const SETTINGS = /^(SCAN_|AUDIT_|ARM_|DEEP_|AZURE_CLOUD)/;

/**
 * Invokes a function handler in a child process (see test/functions/invoke.ts) with exactly the
 * given settings: the parent's own scan and audit settings are not inherited.
 */
export async function invokeFunction(name: string, env: Record<string, string>, message?: unknown): Promise<Invocation> {
  const args = [name, ...(message === undefined ? [] : [JSON.stringify(message)])];
  const run = await runNode(ENTRY.functionInvoker, args, { env, omitEnv: SETTINGS });
  return {
    code: run.code,
    stderr: run.stderr,
    logs: run.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        // The functions library prints a few plain lines of its own (e.g. "HTTP streaming enabled.").
        try {
          return JSON.parse(line) as { level: string; message: string };
        } catch {
          return { level: 'stdout', message: line };
        }
      }),
  };
}
