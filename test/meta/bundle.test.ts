import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';
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
});
