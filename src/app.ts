import { createAzureClients, credentialFor } from './collect/clients.js';
import type { ProgressLog } from './collect/collector.js';
import { defaultPolicy, type Policy } from './config/policy.js';
import { armEndpointOf, type Settings } from './config/settings.js';
import { runScan, type ScanResult } from './scan.js';
import { auditContainer } from './store/blob.js';
import { BlobStore } from './store/stores.js';

/**
 * The Function App's composition root: settings → SDK clients and stores → the scan use-case.
 * The CLI composes the same parts from its flags.
 */
export async function runScheduledScan(
  settings: Settings,
  log: ProgressLog,
  policy: Policy = defaultPolicy(),
): Promise<ScanResult> {
  const armEndpoint = armEndpointOf(settings);
  const clients = createAzureClients({ armEndpoint, credential: credentialFor(armEndpoint) });
  const container = auditContainer({
    accountUrl: settings.AUDIT_STORAGE_ACCOUNT_URL,
    connectionString: settings.AUDIT_STORAGE_CONNECTION_STRING,
    container: settings.AUDIT_CONTAINER,
  });
  return runScan({
    scope: { subscriptions: settings.SCAN_SUBSCRIPTIONS, managementGroups: settings.SCAN_MANAGEMENT_GROUPS },
    policy: { ...policy, parameters: { ...policy.parameters, deepInspection: settings.DEEP_INSPECTION } },
    clients,
    stores: [new BlobStore(container)],
    deepConcurrency: settings.DEEP_INSPECTION_CONCURRENCY,
    log,
  });
}
