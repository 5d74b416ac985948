import { join } from 'node:path';
import { ROOT } from '../../scripts/lib/paths.js';

/**
 * The one place tests learn where things are: the project root (scripts/lib/paths.ts, shared with
 * the scripts), the test data, and the compiled entry points that tests start as child processes.
 * Vitest runs the tests from their TypeScript sources; a child process runs on Node 20 without a
 * TypeScript loader, so what a test spawns is the JavaScript `npm run build` wrote under dist/
 * (`npm test` builds first).
 */

export { built, ROOT } from '../../scripts/lib/paths.js';

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
