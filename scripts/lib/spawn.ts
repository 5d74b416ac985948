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

/** A long-running child: its output so far, a wait for a line of its stdout, a signal, and its end. */
export interface RunningNode {
  readonly child: ChildProcess;
  /** stdout so far. */
  stdout(): string;
  /**
   * Resolves with stdout once `pattern` matches it; rejects when the process ends first (naming
   * its exit code and stderr), so a start-up failure is reported, not waited on.
   */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves when the process exits. */
  readonly exited: Promise<NodeRun>;
}

/** Starts `node <entry> ...args` and leaves it running (a server: `perimeter-auditor simulate`). */
export function startNode(entry: string, args: readonly string[], options: SpawnOptions = {}): RunningNode {
  const { child, exited } = spawnNode(entry, args, options);
  let out = '';
  let err = '';
  let ended: NodeRun | undefined;
  child.stdout?.on('data', (c: Buffer) => void (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => void (err += c.toString()));
  void exited.then((r) => void (ended = r), () => undefined);
  return {
    child,
    stdout: () => out,
    exited,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            child.stdout?.off('data', check);
            resolve(m);
          } else if (ended) reject(new Error(`the process ended (code ${ended.code}) before its output matched ${pattern}: ${err}`));
        };
        child.stdout?.on('data', check);
        void exited.then(check, reject);
        check();
      }),
  };
}
