import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, it } from 'vitest';

/**
 * The deployment bundle (package.json `main`, built by scripts/bundle.mjs) loads on its own and
 * registers every function under functions/. Outside the host, @azure/functions skips each
 * registration with a warning naming the function, which is what is counted here.
 */
describe('deployment bundle', () => {
  it('registers every function of functions/', () => {
    const expected = readdirSync('functions').filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', 'await import(\'./dist/bundle/functions.mjs\')'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const registered = [...`${run.stdout}${run.stderr}`.matchAll(/register function "([^"]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual(registered, expected);
  });
});
