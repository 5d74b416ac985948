import { app } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { commitShardedScan, finalizeOverdueScans, planShardedScan, runShard, type ShardMessage, SHARD_QUEUE, type ShardPlan } from './shards.js';
import { tableQuery } from './collect/resourceGraph.js';
import { TABLES } from './collect/inventory.js';
import { AlertLedger, BlobKeyValueStore } from './alerts/ledger.js';
import type { ApiDeps } from './api/scansApi.js';
import { type AzureClients, azureCredential, createAzureClients, credentialFor } from './collect/clients.js';
import { type ProgressLog, ScanSetupError } from './collect/collector.js';
import { loadWebhooks } from './config/alerts.js';
import { defaultPolicy, parsePolicyText, type Policy, PolicyError } from './config/policy.js';
import { armEndpointOf, loadSettings, type Settings } from './config/settings.js';
import { runScan, type ScanResult } from './scan.js';
import { auditContainer } from './store/blob.js';
import { newScanId } from './store/scanDocument.js';
import { ScanLock } from './store/scanLock.js';
import { BlobStore } from './store/stores.js';
import { type ChangeResult, evaluateChange } from './events/evaluateChange.js';
import type { ResourceEvent } from './events/parse.js';
import { afterScanCommit } from './events/scanState.js';
import { StateStore } from './events/state.js';

/**
 * The Function App's composition root: settings → SDK clients, stores and the lock → use-cases.
 * The CLI composes the same parts from its flags.
 */

// Stream HTTP responses (reports can be hundreds of MB) instead of buffering them.
app.setup({ enableHttpStream: true });

export { SCAN_QUEUE } from './queues.js';

/**
 * A queue of the audit storage account (the Function App's own): identity-based from the blob URL
 * (`.blob.` → `.queue.`), or the connection string (Azurite).
 */
export function auditQueue(settings: Settings, name: string): QueueClient {
  if (settings.AUDIT_STORAGE_CONNECTION_STRING) return new QueueClient(settings.AUDIT_STORAGE_CONNECTION_STRING, name);
  if (!settings.AUDIT_STORAGE_ACCOUNT_URL) throw new Error('no audit storage configured');
  const url = new URL(settings.AUDIT_STORAGE_ACCOUNT_URL);
  url.hostname = url.hostname.replace('.blob.', '.queue.');
  url.pathname = `/${name}`;
  return new QueueClient(url.toString(), azureCredential(settings.AZURE_CLIENT_ID));
}

/** The audit store of the settings. */
export function auditStore(settings: Settings): BlobStore {
  return new BlobStore(
    auditContainer({
      accountUrl: settings.AUDIT_STORAGE_ACCOUNT_URL,
      connectionString: settings.AUDIT_STORAGE_CONNECTION_STRING,
      container: settings.AUDIT_CONTAINER,
      ...(settings.AUDIT_STORAGE_ACCOUNT_URL ? { credential: azureCredential(settings.AZURE_CLIENT_ID) } : {}),
    }),
  );
}

/**
 * The policy of the settings: `POLICY` (the text itself), else the blob `POLICY_BLOB` in the audit
 * container, else the defaults. @throws PolicyError naming the setting or blob, the field and its line
 */
export async function policyOf(settings: Settings): Promise<Policy> {
  if (settings.POLICY) return parsePolicyText(settings.POLICY, 'setting POLICY');
  if (settings.POLICY_BLOB) {
    const blob = auditStore(settings).container.getBlobClient(settings.POLICY_BLOB);
    if (!(await blob.exists())) throw new PolicyError(`blob ${settings.POLICY_BLOB} (setting POLICY_BLOB) does not exist`);
    return parsePolicyText((await blob.downloadToBuffer()).toString('utf8'), `blob ${settings.POLICY_BLOB}`);
  }
  return defaultPolicy();
}

/** What the HTTP API needs, from the environment. @throws SettingsError for invalid settings. */
export function apiDeps(env: Record<string, string | undefined> = process.env): ApiDeps {
  const store = auditStore(loadSettings(env));
  return { store, lock: new ScanLock(store.container) };
}

/** The SDK clients for the settings' cloud and identity; every retried request is logged in plain words. */
function clientsFor(settings: Settings, log: ProgressLog): AzureClients {
  const armEndpoint = armEndpointOf(settings);
  return createAzureClients({ armEndpoint, credential: credentialFor(armEndpoint, settings.AZURE_CLIENT_ID), throttle: { onRetry: log } });
}

async function scanWithSettings(settings: Settings, scanId: string, log: ProgressLog, policy: Policy): Promise<ScanResult> {
  // Invalid webhook settings stop the invocation before the scan, naming the setting.
  const webhooks = loadWebhooks(process.env, settings.ALERT_MIN_SEVERITY);
  const store = auditStore(settings);
  const ledger = new AlertLedger(new BlobKeyValueStore(store.container));
  return runScan({
    scanId,
    scope: { subscriptions: settings.SCAN_SUBSCRIPTIONS, managementGroups: settings.SCAN_MANAGEMENT_GROUPS },
    policy: { ...policy, parameters: { ...policy.parameters, deepInspection: settings.DEEP_INSPECTION } },
    clients: clientsFor(settings, log),
    stores: [store],
    deepConcurrency: settings.DEEP_INSPECTION_CONCURRENCY,
    log,
    afterCommit: (committed) =>
      afterScanCommit(committed, { state: new StateStore(store.container), webhooks, ledger, reportBaseUrl: settings.REPORT_BASE_URL, log }),
  });
}

/**
 * A change event's evaluation with the settings' clients, store, policy and webhooks.
 * @throws for transient failures (Event Grid retries) and invalid settings.
 */
export async function runChangeEvaluation(settings: Settings, event: ResourceEvent, log: ProgressLog, given?: Policy): Promise<ChangeResult> {
  const policy = given ?? (await policyOf(settings));
  const webhooks = loadWebhooks(process.env, settings.ALERT_MIN_SEVERITY);
  const store = auditStore(settings);
  const clients = clientsFor(settings, log);
  return evaluateChange(event, {
    arm: clients.arm,
    state: new StateStore(store.container),
    container: store.container,
    policy: { ...policy, parameters: { ...policy.parameters, deepInspection: settings.DEEP_INSPECTION } },
    webhooks,
    ledger: new AlertLedger(new BlobKeyValueStore(store.container)),
    log,
  });
}

/**
 * The scheduled scan: takes the scan lock, scans, releases it. Returns undefined (and logs why)
 * when another scan holds the lock.
 */
export async function runScheduledScan(settings: Settings, log: ProgressLog, given?: Policy): Promise<ScanResult | ShardPlan | undefined> {
  const policy = given ?? (await policyOf(settings));
  const store = auditStore(settings);
  // Fanned-out scans whose shards did not all report in time are committed as partial first.
  for (const scanId of await finalizeOverdueScans({ container: store.container, log })) log(`overdue scan ${scanId} committed as partial`);
  const lock = new ScanLock(store.container);
  const scanId = newScanId(new Date());
  const taken = await lock.acquire(scanId, 'scheduled');
  if (!taken.acquired) {
    log(`skipped: scan ${taken.holder.scanId} (${taken.holder.trigger}) has been running since ${taken.holder.startedAt}`);
    return undefined;
  }
  try {
    const clients = clientsFor(settings, log);
    const scope = { subscriptions: settings.SCAN_SUBSCRIPTIONS, managementGroups: settings.SCAN_MANAGEMENT_GROUPS };
    // Invalid webhook settings stop the invocation before any request, naming the setting.
    loadWebhooks(process.env, settings.ALERT_MIN_SEVERITY);
    // The size of the scope decides the fan-out: the named subscriptions plus those under the named
    // management groups (the union, as the scan reads them), or the tenant's when neither is named.
    let inScope = scope.subscriptions.length;
    if (scope.managementGroups.length > 0 || inScope === 0) {
      try {
        const where = scope.managementGroups.length ? { managementGroups: scope.managementGroups } : {};
        const ids = new Set(scope.subscriptions.map((s) => s.toLowerCase()));
        for (const row of await clients.graph.readAll(tableQuery(TABLES.subscriptions), where)) {
          const id = (row as { subscriptionId?: unknown } | null)?.subscriptionId;
          if (typeof id === 'string') ids.add(id.toLowerCase());
        }
        inScope = ids.size;
      } catch (error) {
        throw new ScanSetupError(`cannot list subscriptions: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (inScope > settings.SHARD_ABOVE_SUBSCRIPTIONS) {
      log(`${inScope} subscription(s) in scope, above SHARD_ABOVE_SUBSCRIPTIONS (${settings.SHARD_ABOVE_SUBSCRIPTIONS}): fanning out`);
      return await planShardedScan({
        scanId,
        scope,
        policy: { ...policy, parameters: { ...policy.parameters, deepInspection: settings.DEEP_INSPECTION } },
        clients,
        container: store.container,
        queue: auditQueue(settings, SHARD_QUEUE),
        timeoutMs: settings.SHARD_TIMEOUT_MINUTES * 60_000,
        log,
      });
    }
    return await scanWithSettings(settings, scanId, log, policy);
  } finally {
    await lock.release(scanId);
  }
}

/**
 * One shard of a fanned-out scan (queue trigger `scanShard`), then the commit when it is the last.
 * @throws UnknownShardError (poison it) or a transient error (the queue retries).
 */
export async function runScanShard(settings: Settings, message: ShardMessage, log: ProgressLog, given?: Policy): ReturnType<typeof runShard> {
  const policy = given ?? (await policyOf(settings));
  return runShard(message, {
    container: auditStore(settings).container,
    clients: clientsFor(settings, log),
    policy,
    deepConcurrency: settings.DEEP_INSPECTION_CONCURRENCY,
    log,
  });
}

export { commitShardedScan };

/**
 * An on-demand scan requested through `POST /api/scans` (the queue message carries its scanId).
 * Idempotent: a scanId whose scan.json exists is not scanned again.
 * @throws Error while another scan holds the lock, so the queue delivers the message again later.
 */
export async function runRequestedScan(settings: Settings, scanId: string, log: ProgressLog, given?: Policy): Promise<ScanResult | undefined> {
  const policy = given ?? (await policyOf(settings));
  const store = auditStore(settings);
  if (await store.scan(scanId)) {
    log(`scan ${scanId} is already stored; nothing to do`);
    return undefined;
  }
  const lock = new ScanLock(store.container);
  const holder = await lock.holder();
  if (holder && holder.scanId !== scanId) throw new Error(`scan ${holder.scanId} is running; ${scanId} will be retried`);
  if (!holder) {
    const taken = await lock.acquire(scanId, 'http');
    if (!taken.acquired) throw new Error(`scan ${taken.holder.scanId} is running; ${scanId} will be retried`);
  }
  try {
    return await scanWithSettings(settings, scanId, log, policy);
  } finally {
    await lock.release(scanId);
  }
}
