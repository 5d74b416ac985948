import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summaryTable } from './cli.js';
import { createAzureClients, developmentCredential } from './collect/clients.js';
import { defaultPolicy } from './config/policy.js';
import { runScan } from './scan.js';
import { auditContainer } from './store/blob.js';
import { BlobStore, DirectoryStore } from './store/stores.js';

/**
 * `perimeter-auditor demo`: starts Azurite (in memory) and the HTTPS ARM simulator with the sample
 * tenant on loopback, runs the real scan through the SDK clients, writes to Blob and to a
 * directory, prints the summary, and stops everything it started. Needs the dev dependencies
 * (`npm ci` in a clone).
 *
 * @returns the exit code: 0 when the demo ran (the sample tenant has fails by design), 2 otherwise.
 */
export async function runDemo(options: { output: string; log: (message: string) => void }): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url));
  const { loadTenant, startArmSimulator } = await import('../test/simulator/server.js');
  const { startAzurite } = await import('../test/simulator/azurite.js');
  const tenantDir = join(here, '..', '..', 'test', 'simulator', 'tenants', 'sample');
  const started = Date.now();
  const azurite = await startAzurite();
  try {
    const simulator = await startArmSimulator({
      tenant: await loadTenant(tenantDir),
      latencyMs: 20,
      quota: { limit: 15, windowMs: 5000, enforce: true, retryAfter: true },
    });
    try {
      options.log(`ARM simulator at ${simulator.url}; Azurite Blob at ${azurite.blobEndpoint}`);
      const clients = createAzureClients({
        armEndpoint: simulator.url,
        credential: developmentCredential(simulator.url),
        caCertificates: simulator.caCertificate,
      });
      const container = auditContainer({ connectionString: azurite.connectionString, container: 'audit' });
      const blob = new BlobStore(container);
      const result = await runScan({
        scope: { subscriptions: [], managementGroups: [] },
        policy: defaultPolicy(),
        clients,
        stores: [new DirectoryStore(options.output), blob],
        log: options.log,
      });
      const latest = await blob.latest();
      process.stdout.write(summaryTable(result));
      const names = ['scan.json', 'findings.ndjson', 'report.html', 'report.csv', 'report.sarif', 'report.json'];
      process.stdout.write(`\nfiles in ${options.output}: ${names.join(', ')} (open report.html in a browser)\n`);
      process.stdout.write(
        `blob: ${container.url}/scans/${result.scan.scanId}/ (latest.json → ${latest?.scanId ?? 'missing'})\n`,
      );
      process.stdout.write(
        `demo wall time ${Date.now() - started} ms (including starting Azurite and the simulator)\n`,
      );
      return 0;
    } finally {
      await simulator.close();
    }
  } finally {
    await azurite.stop();
  }
}
