import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { AlertLedger, BlobKeyValueStore } from './alerts/ledger.js';
import { alertOnScan } from './alerts/scanAlerts.js';
import type { WebhookConfig } from './config/alerts.js';
import { summaryTable } from './cli.js';
import { createAzureClients, developmentCredential } from './collect/clients.js';
import { defaultPolicy } from './config/policy.js';
import { createLogsUploader, ExportLedger, type ExportRecord, exportAfterCommit, exportLine } from './export/logsExport.js';
import { FINDINGS_TABLE, SCANS_TABLE } from './export/tables.js';
import { readinessOf, readinessText } from './reports/readiness.js';
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
  // Loaded only when the demo runs: the simulator and Azurite launcher need the dev dependencies.
  const { startSimulation } = await import('./simulate.js');
  const { startAzurite } = await import('./simulator/azurite.js');
  const { startReceiver } = await import('./simulator/receiver.js');
  const { receivedKey, SIMULATOR_DCR_ID } = await import('./simulator/ingestion.js');
  const started = Date.now();
  const azurite = await startAzurite();
  const receiver = await startReceiver();
  // The same start-up as `perimeter-auditor simulate --tenant sample` (src/simulate.ts).
  const simulation = await startSimulation({ tenant: { kind: 'sample' } });
  const { simulator, tenant } = simulation;
  try {
    options.log(`ARM simulator at ${simulator.url}; Azurite Blob at ${azurite.blobEndpoint}; webhook receiver at ${receiver.url}`);
    const clients = createAzureClients({
      armEndpoint: simulator.url,
      credential: developmentCredential(simulator.url),
      caCertificates: simulator.caCertificate,
    });
    const container = auditContainer({ connectionString: azurite.connectionString, container: 'audit' });
    const blob = new BlobStore(container);
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    // Plain http to loopback is allowed for the demo only, and only because this webhook says so.
    const webhook: WebhookConfig = { name: 'DEMO', format: 'cloudevents', url: new URL(`${receiver.url}/alerts`), secret, minSeverity: 'high', allowPrivateDestinations: true };
    const ledger = new AlertLedger(new BlobKeyValueStore(container));
    const uploader = createLogsUploader({
      endpoint: simulator.url,
      dcrImmutableId: SIMULATOR_DCR_ID,
      credential: developmentCredential(simulator.url),
      caCertificates: simulator.caCertificate,
    });
    const exports: Array<ExportRecord | undefined> = [];
    const scan = () =>
      runScan({
        scope: { subscriptions: [], managementGroups: [] },
        policy: defaultPolicy(),
        clients,
        stores: [blob, new DirectoryStore(options.output)],
        log: options.log,
        retainFindings: true,
        afterCommit: async ({ scan: s, previous, current }) => {
          await alertOnScan({ scan: s, previous, current, webhooks: [webhook], ledger, log: options.log });
          // The Log Analytics export, to the simulator's Logs Ingestion API (its data collection rule).
          const exportLedger = new ExportLedger(new BlobKeyValueStore(container));
          exports.push(await exportAfterCommit({ scan: s, findings: current, uploader, ledger: exportLedger, log: options.log }));
        },
      });

    const first = await scan();
    options.log(`first scan ${first.scan.scanId} done; now changing the tenant: oai-chat-prod drops to Learning mode, oai-legacy-prod gets a managed identity`);
    const chat = tenant.networkresources.find((r) => String(r.id).endsWith('/resourceAssociations/oai-chat-prod-assoc'));
    if (chat) (chat.properties as Record<string, unknown>).accessMode = 'Learning';
    const legacy = tenant.resources.find((r) => r.name === 'oai-legacy-prod');
    if (legacy) legacy.identity = { type: 'SystemAssigned', principalId: '0000004a-1111-4222-8333-444455556666' };
    // scanIds have one-second resolution; keep the two scans apart.
    await new Promise((r) => setTimeout(r, 1000));
    const second = await scan();

    const latest = await blob.latest();
    process.stdout.write(summaryTable(second));
    const names = ['scan.json', 'findings.ndjson', 'report.html', 'report.csv', 'report.sarif', 'report.json'];
    process.stdout.write(`\nfiles in ${options.output}: ${names.join(', ')} (open report.html in a browser)\n`);
    process.stdout.write(`blob: ${container.url}/scans/${second.scan.scanId}/ (latest.json → ${latest?.scanId ?? 'missing'})\n`);

    const last = exports[exports.length - 1];
    const arrived = (stream: string) => simulator.ingestion.received[receivedKey(SIMULATOR_DCR_ID, stream)]?.length ?? 0;
    process.stdout.write(`${last ? exportLine(last) : 'export: the second scan was not exported'}\n`);
    const findingsRows = arrived(FINDINGS_TABLE.stream);
    process.stdout.write(`the simulator's Log Analytics now holds ${findingsRows} row(s) in ${FINDINGS_TABLE.table} and ${arrived(SCANS_TABLE.stream)} in ${SCANS_TABLE.table} (both scans)\n`);

    const readiness = readinessOf(second.findings);
    process.stdout.write(`\nenforcement readiness (NSP-07, from the perimeters' access logs; \`perimeter-auditor readiness\` prints the same for a tenant):\n`);
    process.stdout.write(readiness.length === 0 ? 'no account is associated in Learning mode\n' : readinessText(readiness));

    process.stdout.write(`\nwebhook receiver got ${receiver.requests.length} digest(s):\n`);
    for (const r of receiver.requests) {
      const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]));
      let verified = 'signature verified';
      try {
        new Webhook(secret).verify(r.body, headers);
      } catch (error) {
        verified = `signature NOT verified: ${(error as Error).message}`;
      }
      type Item = { kind: string; severity: string; ruleId: string; accountName: string };
      const event = JSON.parse(r.body) as { type: string; subject: string; data: { counts: Record<string, number>; items: Item[]; report?: string } };
      const c = event.data.counts;
      process.stdout.write(`- ${event.type} for scan ${event.subject}: ${c.opened} opened, ${c.regressed} regressed, ${c.resolved} resolved (${verified}; webhook-id ${headers['webhook-id']})\n`);
      if (r === receiver.requests[receiver.requests.length - 1]) {
        for (const item of event.data.items) process.stdout.write(`    ${item.severity} ${item.kind} ${item.ruleId} ${item.accountName}\n`);
        if (event.data.report) process.stdout.write(`    report: ${event.data.report}\n`);
      }
    }
    process.stdout.write(`demo wall time ${Date.now() - started} ms (including starting Azurite, the simulator and the receiver)\n`);
    return 0;
  } finally {
    await simulation.close();
    await receiver.close();
    await azurite.stop();
  }
}
