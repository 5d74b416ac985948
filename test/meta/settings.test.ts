import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { loadSettings, SettingsSchema } from '../../src/config/settings.js';
import { ROOT as root } from '../helpers/paths.js';

describe('settings documentation', () => {
  const keys = Object.keys(SettingsSchema.shape);
  it('every setting the code reads is in local.settings.sample.json, and nothing else of ours', () => {
    const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as {
      Values: Record<string, string>;
    };
    const ours = Object.keys(sample.Values).filter(
      (k) => !['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage'].includes(k),
    );
    assert.deepEqual(ours.sort(), [...keys].sort());
    assert.doesNotThrow(() => loadSettings(sample.Values), 'the sample validates');
  });
  it('every setting is documented in the README settings table', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const k of keys) assert.match(readme, new RegExp(`^\\|\\s*\`${k}\`\\s*\\|`, 'm'), k);
  });
});

describe('README policy example', () => {
  it('validates, and uses every top-level field of the schema', async () => {
    const { PolicyFileSchema, parsePolicyText } = await import('../../src/config/policy.js');
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const start = readme.indexOf('An example that uses every field:');
    const block = /```yaml\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
    assert.ok(block, 'the example is in the README');
    const policy = parsePolicyText(block, 'README example');
    assert.equal(policy.exemptions.length, 4);
    for (const key of Object.keys(PolicyFileSchema.shape)) assert.match(block, new RegExp(`^${key}:`, 'm'), key);
    for (const target of ['resourceId', 'resourceGroup', 'subscription', 'tags']) assert.match(block, new RegExp(`target: \\{ ${target}:`), target);
  });
});
