import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = join(dirname(fileURLToPath(import.meta.url)), '..', 'functions', 'invoke.js');

export interface Invocation {
  readonly code: number | null;
  readonly logs: Array<{ level: string; message: string }>;
  readonly stderr: string;
}

/**
 * Invokes a function handler in a child process (see test/functions/invoke.ts) with exactly the
 * given settings: the parent's own scan and audit settings are not inherited.
 */
export function invokeFunction(name: string, env: Record<string, string>, message?: unknown): Promise<Invocation> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SCAN_|AUDIT_|ARM_|DEEP_|AZURE_CLOUD)/.test(k)));
    const args = [ENTRY, name, ...(message === undefined ? [] : [JSON.stringify(message)])];
    const child = spawn(process.execPath, args, { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      resolve({
        code,
        stderr,
        logs: out
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
      }),
    );
  });
}
