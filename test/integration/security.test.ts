import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient } from '@azure/storage-blob';
import { reportsHttp } from '../../functions/reports.js';
import { rulesHttp } from '../../functions/rules.js';
import { scansHttp } from '../../functions/scans.js';
import { DEVELOPMENT_TOKEN } from '../../src/collect/clients.js';
import { HOSTILE, hostileTenant } from '../helpers/hostile.js';
import { withSimulator } from '../helpers/sample.js';
import { type Azurite, startAzurite } from '../simulator/azurite.js';
import { startReceiver } from '../simulator/receiver.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'bin.js');

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => void (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => void (out += c.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

describe('security', () => {
  let azurite: Azurite;
  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite.stop();
  });

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
        const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--blob-connection-string', azurite.connectionString, '--container', 'secrets'], env);
        assert.equal(run.code, 1, run.out);
        assert.ok(receiver.requests.length > 0, 'the webhook was tried (and dead-lettered)');
        const forbidden = [secret, secret.slice(6), urlToken, accountKey, DEVELOPMENT_TOKEN];
        const stored: Array<[string, string]> = [['cli output', run.out]];
        for (const f of await filesUnder(out)) stored.push([f, await readFile(f, 'utf8')]);
        const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('secrets');
        for await (const b of container.listBlobsFlat()) stored.push([b.name, (await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8')]);
        assert.ok(stored.some(([n]) => n.startsWith('deadletter/')), 'a dead letter was stored');
        for (const [name, content] of stored) {
          for (const f of forbidden) assert.ok(!content.includes(f), `${name} contains a secret`);
        }
        // Resource text never reaches the logs (they carry counts, IDs of subscriptions and our own words).
        for (const t of [HOSTILE.markupName, HOSTILE.tags.script, HOSTILE.tags.owner]) assert.ok(!run.out.includes(t), `log carries ${t}`);
      });
    } finally {
      await receiver.close();
    }
  });

  it('every HTTP endpoint requires a function key', () => {
    for (const options of [scansHttp, reportsHttp, rulesHttp]) assert.equal(options.authLevel, 'function', String(options.route));
  });
});
