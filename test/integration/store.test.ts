import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { type ContainerClient } from '@azure/storage-blob';
import type { Artifact } from '../../src/store/artifact.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { BlobStore, DirectoryStore } from '../../src/store/stores.js';
import { scanSimulator, withSimulator } from '../helpers/sample.js';
import { useAzurite } from '../helpers/azurite.js';

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
      bySeverity: {} as ScanDocument['summary']['bySeverity'],
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
      assert.deepEqual(names.sort(), ['latest.json', ...files.map((f) => `scans/${scan.scanId}/${f}`)]);
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

  it('refuses a scanId that is not of the scanId form, before writing anything', async () => {
    const container = azurite.container('audit-badid',
    );
    await assert.rejects(new BlobStore(container).save(fakeScan('../../latest'), findingsText('')), /malformed scanId/);
    assert.equal(await container.exists(), false);
  });
});

describe('directory store', () => {
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
