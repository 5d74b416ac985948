import { type ChildProcess, spawn } from 'node:child_process';
import { built } from './paths.js';

/**
 * The one way the tests and the scripts start a compiled entry point (the CLI, the function invoker,
 * vitest) as a child process: Node itself (`process.execPath`), the parent's environment plus `env`,
 * output captured.
 */

export interface NodeRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr in the order they arrived. */
  readonly output: string;
}

export interface SpawnOptions {
  /** Set on top of the inherited environment. */
  readonly env?: Record<string, string>;
  /** Inherited variables whose names match are not passed on (e.g. the parent's own settings). */
  readonly omitEnv?: RegExp;
}

interface Spawned {
  readonly child: ChildProcess;
  /** Resolves when the process exits (killed or not); rejects when it cannot be started. */
  readonly exited: Promise<NodeRun>;
}

/** Starts `node <entry> ...args`. */
function spawnNode(entry: string, args: readonly string[], options: SpawnOptions = {}): Spawned {
  const inherited = options.omitEnv
    ? Object.fromEntries(Object.entries(process.env).filter(([k]) => !options.omitEnv?.test(k)))
    : process.env;
  const child = spawn(process.execPath, [built(entry), ...args], { env: { ...inherited, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
    output += c.toString();
  });
  const exited = new Promise<NodeRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, output }));
  });
  return { child, exited };
}

/** Runs `node <entry> ...args` to its end. */
export function runNode(entry: string, args: readonly string[], options: SpawnOptions = {}): Promise<NodeRun> {
  return spawnNode(entry, args, options).exited;
}
