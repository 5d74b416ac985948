import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { built, ENTRY, ROOT } from '../helpers/paths.js';
import { bundleRegistrations } from '../helpers/registrations.js';

/**
 * The deployment bundle (package.json `main`, built by scripts/bundle.mjs) loads on its own and
 * registers every function under functions/, as the Functions host would see it.
 */
describe('deployment bundle', () => {
  it('registers every function of functions/', async () => {
    const expected = readdirSync(join(ROOT, 'functions')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
    const registered = (await bundleRegistrations()).map((r) => r.name).sort();
    assert.deepEqual(registered, expected);
  });

  /**
   * The simulator (src/simulator) serves the demo, the benchmarks and the tests; the Function App
   * never runs it. A string literal of each simulator module, found in no other source file, survives
   * minification: present in the compiled module, it must be absent from the bundle.
   */
  it('leaves the simulator out', () => {
    const markers: ReadonlyArray<readonly [module: string, marker: string]> = [
      ['server', 'perimeter-auditor ARM simulator'],
      ['generate', 'a1b2c3d4-0000-4000-8000-00000000c0de'],
      ['azurite', '--inMemoryPersistence'],
      ['sample', './tenants/sample/'],
    ];
    const bundle = readFileSync(built(ENTRY.functionsBundle), 'utf8');
    const others = [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'functions'))].filter((f) => !f.startsWith(join(ROOT, 'src', 'simulator')));
    for (const [module, marker] of markers) {
      const compiled = readFileSync(built(join(ROOT, 'dist', 'src', 'simulator', `${module}.js`)), 'utf8');
      assert.ok(compiled.includes(marker), `dist/src/simulator/${module}.js no longer holds '${marker}': choose another marker`);
      const elsewhere = others.filter((f) => readFileSync(f, 'utf8').includes(marker));
      assert.deepEqual(elsewhere, [], `'${marker}' is not the simulator's alone: choose another marker`);
      assert.ok(!bundle.includes(marker), `the Functions bundle holds src/simulator/${module}.ts ('${marker}'): something under functions/ imports the simulator`);
    }
  });
});

/** The .ts files under `dir`, recursively. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
}
