import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The one place that knows where things are: the project root, the test data, and the compiled
 * entry points that tests start as child processes. Vitest runs the tests from their TypeScript
 * sources; a child process runs on Node 20 without a TypeScript loader, so what a test spawns is
 * the JavaScript `npm run build` wrote under dist/ (`npm test` builds first).
 *
 * Resolved from this file's location upwards to the folder holding package.json, so the same
 * module works from test/helpers/ (vitest) and from dist/test/helpers/ (the compiled demo).
 */

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the project root (package.json) above test/helpers');
    dir = parent;
  }
}

export const ROOT = projectRoot();

/** The test data folder (JSON schemas and other fixtures). */
export const FIXTURES = join(ROOT, 'test', 'fixtures');

/** Compiled entry points that tests spawn (built by `npm run build`). */
export const ENTRY = {
  /** The CLI (`perimeter-auditor`, package.json `bin`). */
  cli: join(ROOT, 'dist', 'src', 'bin.js'),
  /** Calls one function handler as the Functions host would (test/functions/invoke.ts). */
  functionInvoker: join(ROOT, 'dist', 'test', 'functions', 'invoke.js'),
  /** The bundled Functions app (scripts/bundle.mjs). */
  functionsBundle: join(ROOT, 'dist', 'bundle', 'functions.mjs'),
  /** `npm run infra:check` (scripts/infra-check.ts). */
  infraCheck: join(ROOT, 'dist', 'scripts', 'infra-check.js'),
} as const;

/** @throws Error naming `npm run build` when a compiled entry point is missing. */
export function built(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` (npm test does)`);
  return path;
}
