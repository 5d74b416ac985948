import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project root, for the scripts and the tests: the folder holding package.json, found upwards
 * from this module, so the same code works from its source (scripts/lib/, under vitest) and compiled
 * (dist/scripts/lib/, what `npm run …` scripts run).
 */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the project root (package.json) above scripts/lib');
    dir = parent;
  }
}

export const ROOT = projectRoot();

/** @throws Error naming `npm run build` when a compiled entry point is missing. */
export function built(path: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` (npm test does)`);
  return path;
}
