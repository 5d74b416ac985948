import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { type ContainerClient } from '@azure/storage-blob';
import type { Artifact } from '../../src/store/artifact.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { BlobStore, DestinationError, DirectoryStore } from '../../src/store/stores.js';
import { scanSimulator, withSimulator } from '../helpers/sample.js';
import { useAzurite } from '../helpers/azurite.js';
import { auditContainer } from '../../src/store/blob.js';

function fakeScan(scanId: string): ScanDocument {
  return {
    schemaVersion: 1,
    scanId,
    startedAt: '2026-11-21T03:00:00.000Z',
    finishedAt: '2026-11-21T03:00:01.000Z',
    status: 'complete',
    scope: { subscriptions: [], managementGroups: [], deepInspection: true },
    coverage: { subscriptions: [], accounts: 0, tables: [], deepInspection: { accounts: 0, failed: 0 }, problems: [] },
    rules: [],
    summary: {
      byOutcome: { pass: 0, fail: 0, not_applicable: 0, unknown: 0 },
      bySeverity: Object.fromEntries(['high', 'medium', 'low'].map((s) => [s, { pass: 0, fail: 0, not_applicable: 0, unknown: 0 }])) as ScanDocument['summary']['bySeverity'],
      byRule: {},
      exempted: { byOutcome: { pass: 0, fail: 0, not_applicable: 0, unknown: 0 }, failsBySeverity: { high: 0, medium: 0, low: 0 }, failsByRule: {} },
      expiredExemptions: 0,
    },
    stats: { durationMs: 1, resourceGraphPages: 0, resourceGraphRequests: 0, armRequests: 0, throttledResponses: 0 },
  };
}

/** A findings.ndjson artifact with fixed content. */
function findingsText(content: string): Artifact[] {
  return [{ name: 'findings.ndjson', contentType: 'application/x-ndjson', write: async (out) => void out.write(content) }];
}

async function text(container: ContainerClient, name: string): Promise<string> {
  return (await container.getBlobClient(name).downloadToBuffer()).toString('utf8');
}

describe('Blob store (Azurite)', () => {
  const azurite = useAzurite();

  it('writes the scan with the documented layout, latest.json pointing at it', async () => {
    const container = azurite.container('audit-layout',
    );
    await withSimulator({}, async (sim) => {
      const { scan, findings } = await scanSimulator(sim, { stores: [new BlobStore(container)] });
      const names: string[] = [];
      for await (const b of container.listBlobsFlat()) names.push(b.name);
      const files = ['findings.ndjson', 'report.csv', 'report.html', 'report.json', 'report.sarif', 'scan.json'];
      assert.deepEqual(names.sort(), [`commits/${scan.scanId}.json`, 'latest.json', ...files.map((f) => `scans/${scan.scanId}/${f}`)]);
      const html = await container.getBlobClient(`scans/${scan.scanId}/report.html`).getProperties();
      assert.equal(html.contentType, 'text/html; charset=utf-8');
      assert.deepEqual(JSON.parse(await text(container, 'latest.json')), {
        scanId: scan.scanId,
        finishedAt: scan.finishedAt,
      });
      const stored = JSON.parse(await text(container, `scans/${scan.scanId}/scan.json`)) as ScanDocument;
      assert.equal(stored.schemaVersion, 1);
      assert.deepEqual(stored.summary, scan.summary);
      const lines = (await text(container, `scans/${scan.scanId}/findings.ndjson`)).trimEnd().split('\n');
      assert.equal(lines.length, findings.length);
      const first = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
      assert.deepEqual(
        Object.keys(first).sort(),
        [
          'accountName',
          'code',
          'evidence',
          'kind',
          'location',
          'message',
          'outcome',
          'resourceGroup',
          'resourceId',
          'ruleId',
          'severity',
          'subscriptionId',
          'tags',
        ].sort(),
      );
      const props = await container.getBlobClient(`scans/${scan.scanId}/scan.json`).getProperties();
      assert.equal(props.contentType, 'application/json');
    });
  });

  it('a commit that fails leaves latest.json on the previous scan', async () => {
    const container = azurite.container('audit-failure',
    );
    const store = new BlobStore(container);
    const good = '2026-11-21T03-00-00Z-aaaaaa';
    await store.save(fakeScan(good), findingsText('{}\n'));
    // Someone holds a lease on latest.json: the new commit is refused by the service.
    const lease = container.getBlobClient('latest.json').getBlobLeaseClient();
    await lease.acquireLease(-1);
    await assert.rejects(store.save(fakeScan('2026-11-21T09-00-00Z-bbbbbb'), findingsText('{}\n')), /lease/i);
    assert.equal((await store.latest())?.scanId, good);
    await lease.releaseLease();
  });

  it('a scan whose commit was refused is never listed, even once a later scan commits', async () => {
    const container = azurite.container('audit-refused');
    const store = new BlobStore(container);
    const good = '2026-11-21T03-00-00Z-aaaaaa';
    const refused = '2026-11-21T09-00-00Z-bbbbbb';
    const later = '2026-11-21T15-00-00Z-cccccc';
    await store.save(fakeScan(good), findingsText('{}\n'));
    const lease = container.getBlobClient('latest.json').getBlobLeaseClient();
    await lease.acquireLease(-1);
    await assert.rejects(store.save(fakeScan(refused), findingsText('{}\n')), (e: Error) =>
      e instanceof DestinationError && e.message.includes(`the Blob store ${store.location} could not write latest.json (the commit point) for scan ${refused}`) && /lease/i.test(e.message));
    await lease.releaseLease();
    assert.deepEqual(await store.committedScanIds(), [good], 'the refused scan is not listed');
    await store.save(fakeScan(later), findingsText('{}\n'));
    assert.deepEqual(await store.scanIds(), [later, refused, good], 'its files are still there');
    assert.deepEqual(await store.committedScanIds(), [later, good], 'overtaken by a later commit, the refused scan is still not listed');
    assert.deepEqual((await store.history()).map((p) => p.scanId), [good, later]);
  });

  it('a commit record lost to a crash after latest.json is written by the next save', async () => {
    const container = azurite.container('audit-crashrecord');
    const store = new BlobStore(container);
    const first = '2026-11-21T03-00-00Z-aaaaaa';
    const crashed = '2026-11-21T09-00-00Z-bbbbbb';
    await store.save(fakeScan(first), findingsText('{}\n'));
    await store.save(fakeScan(crashed), findingsText('{}\n'));
    // The process died between latest.json and its record: latest.json alone lists it.
    await container.getBlobClient(`commits/${crashed}.json`).delete();
    assert.deepEqual(await store.committedScanIds(), [crashed, first]);
    await store.save(fakeScan('2026-11-21T15-00-00Z-cccccc'), findingsText('{}\n'));
    assert.deepEqual(await store.committedScanIds(), ['2026-11-21T15-00-00Z-cccccc', crashed, first]);
    assert.equal(await container.getBlobClient(`commits/${crashed}.json`).exists(), true);
  });

  it('a store written before commit records lists as before, and keeps those scans once records begin', async () => {
    const container = azurite.container('audit-legacy');
    const store = new BlobStore(container);
    const ids = ['2026-11-21T03-00-00Z-aaaaaa', '2026-11-21T09-00-00Z-bbbbbb'];
    for (const id of ids) await store.save(fakeScan(id), findingsText('{}\n'));
    for (const id of ids) await container.getBlobClient(`commits/${id}.json`).delete();
    assert.deepEqual(await store.committedScanIds(), [...ids].reverse());
    const next = '2026-11-21T15-00-00Z-cccccc';
    await store.save(fakeScan(next), findingsText('{}\n'));
    assert.deepEqual(await store.committedScanIds(), [next, ...[...ids].reverse()]);
  });

  it('the write probe creates the container, leaves nothing behind, and names a store that refuses connections', async () => {
    const container = azurite.container('audit-probe');
    await new BlobStore(container).probe();
    assert.equal(await container.exists(), true);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    assert.deepEqual(names, []);
    // A port nothing listens on (Azurite's own, once this container client points elsewhere).
    const closed = azurite.connectionString.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:1');
    const refusing = new BlobStore(auditContainer({ connectionString: closed, container: 'audit' }));
    await assert.rejects(refusing.probe(), (e: Error) =>
      e instanceof DestinationError && e.message.startsWith(`the Blob store http://127.0.0.1:1/devstoreaccount1/audit cannot be written: `) && /ECONNREFUSED.*nothing listens there/.test(e.message));
  });

  it('refuses a scanId that is not of the scanId form, before writing anything', async () => {
    const container = azurite.container('audit-badid',
    );
    await assert.rejects(new BlobStore(container).save(fakeScan('../../latest'), findingsText('')), /malformed scanId/);
    assert.equal(await container.exists(), false);
  });
});

describe('directory store', () => {
  it('the write probe creates a missing directory and names one that is a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-dir-'));
    await new DirectoryStore(join(dir, 'new', 'out')).probe();
    assert.deepEqual(await readdir(join(dir, 'new', 'out')), [], 'nothing left behind');
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    await assert.rejects(new DirectoryStore(file).probe(), (e: Error) =>
      e instanceof DestinationError && e.message === `the output directory ${file} is a file, not a directory: give --output a directory (it is created when missing)`);
    await assert.rejects(new DirectoryStore(join(file, 'below')).probe(), (e: Error) =>
      e instanceof DestinationError && e.message.startsWith(`the output directory ${join(file, 'below')} cannot be written: `) && /ENOTDIR.*a part of the path is a file/.test(e.message));
  });

  it('replaces files only when every new file was written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-dir-'));
    const store = new DirectoryStore(dir);
    const first = fakeScan('2026-11-21T03-00-00Z-aaaaaa');
    await store.save(first, findingsText('first\n'));
    const second = fakeScan('2026-11-21T09-00-00Z-bbbbbb');
    // Make the second write of scan.json fail: its temporary path is taken by a directory.
    await mkdir(join(dir, `.scan.json.${second.scanId}.tmp`));
    await assert.rejects(store.save(second, findingsText('second\n')), /EISDIR/);
    assert.equal(JSON.parse(await readFile(join(dir, 'scan.json'), 'utf8')).scanId, first.scanId);
    assert.equal(await readFile(join(dir, 'findings.ndjson'), 'utf8'), 'first\n');
  });
});
