import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { DEVELOPMENT_TOKEN } from '../../src/collect/clients.js';
import { HOSTILE, hostileTenant } from '../helpers/hostile.js';
import { bundleRegistrations } from '../helpers/registrations.js';
import { withSimulator } from '../helpers/sample.js';
import { runCli } from '../helpers/spawn.js';
import { startReceiver } from '../../src/simulator/receiver.js';
import { useAzurite } from '../helpers/azurite.js';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

describe('security', () => {
  const azurite = useAzurite();

  it('secrets and tokens appear in no log line and no stored file, with hostile names and tags in the tenant', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const urlToken = `sig=${randomBytes(12).toString('hex')}`;
    const accountKey = /AccountKey=([^;]+)/.exec(azurite.connectionString)?.[1] ?? '';
    const receiver = await startReceiver(() => ({ status: 500 }));
    try {
      await withSimulator({ tenant: await hostileTenant() }, async (sim) => {
        const out = await mkdtemp(join(tmpdir(), 'pa-secrets-'));
        const env = {
          NODE_EXTRA_CA_CERTS: sim.caFile,
          ALERT_WEBHOOKS: JSON.stringify([{ name: 'SIEM', format: 'cloudevents', allowPrivateDestinations: true }]),
          ALERT_WEBHOOK_SIEM_URL: `${receiver.url}/hook?${urlToken}`,
          ALERT_WEBHOOK_SIEM_SECRET: secret,
        };
        const run = await runCli(['scan', '--arm-endpoint', sim.url, '--output', out, '--blob-connection-string', azurite.connectionString, '--container', 'secrets'], env);
        assert.equal(run.code, 1, run.output);
        assert.ok(receiver.requests.length > 0, 'the webhook was tried (and dead-lettered)');
        const forbidden = [secret, secret.slice(6), urlToken, accountKey, DEVELOPMENT_TOKEN];
        const stored: Array<[string, string]> = [['cli output', run.output]];
        for (const f of await filesUnder(out)) stored.push([f, await readFile(f, 'utf8')]);
        const container = azurite.container('secrets');
        for await (const b of container.listBlobsFlat()) stored.push([b.name, (await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8')]);
        assert.ok(stored.some(([n]) => n.startsWith('deadletter/')), 'a dead letter was stored');
        for (const [name, content] of stored) {
          for (const f of forbidden) assert.ok(!content.includes(f), `${name} contains a secret`);
        }
        // Resource text never reaches the logs (they carry counts, IDs of subscriptions and our own words).
        for (const t of [HOSTILE.markupName, HOSTILE.tags.script, HOSTILE.tags.owner]) assert.ok(!run.output.includes(t), `log carries ${t}`);
      });
    } finally {
      await receiver.close();
    }
  });

  it('every HTTP endpoint requires a function key', async () => {
    // Every HTTP trigger the deployment bundle registers, as the Functions host receives it: a new
    // endpoint is checked without being added to a list here.
    const http = (await bundleRegistrations()).flatMap((r) => Object.values(r.bindings).filter((b) => b.type === 'httpTrigger').map((b) => ({ ...b, fn: r.name })));
    assert.ok(http.length >= 3, `HTTP functions found: ${http.map((h) => h.fn).join(', ')}`);
    for (const trigger of http) assert.equal(trigger.authLevel, 'function', `${trigger.fn} (${trigger.route ?? ''})`);
  });
});
