import { app } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { commitShardedScan, enqueueShards, finalizeOverdueScans, runShard, type ShardMessage, SHARD_QUEUE, type StoredPlan } from './shards.js';
import { AlertLedger, BlobKeyValueStore } from './alerts/ledger.js';
import type { ApiDeps } from './api/scansApi.js';
import { type AzureClients, azureCredential, createAzureClients, credentialFor } from './collect/clients.js';
import type { ProgressLog, ScanScope } from './collect/collector.js';
import { loadWebhooks, type WebhookConfig } from './config/alerts.js';
import { defaultPolicy, parsePolicyText, type Policy, PolicyError } from './config/policy.js';
import { armEndpointOf, loadSettings, logsEndpointOf, SettingsError, type Settings } from './config/settings.js';
import { ExportConfigError, ExportLedger, exportAfterCommit, type LogsUploader, uploaderFrom } from './export/logsExport.js';
import type { AfterCommit } from './pipeline/commit.js';
import type { PlannedScan } from './pipeline/plan.js';
import { planOf, runScan, type ScanResult } from './scan.js';
import { auditContainer } from './store/blob.js';
import { newScanId } from './store/scanDocument.js';
import { JsonBlobs } from './store/json.js';
import { ScanLock } from './store/scanLock.js';
import { BlobStore } from './store/stores.js';
import { type ChangeResult, evaluateChange } from './events/evaluateChange.js';
import type { ResourceEvent } from './events/parse.js';
import { afterScanCommit } from './events/scanState.js';
import { StateStore } from './store/accountState.js';

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
    const text = await new JsonBlobs(auditStore(settings).container).readText(settings.POLICY_BLOB);
    if (!text) throw new PolicyError(`blob ${settings.POLICY_BLOB} (setting POLICY_BLOB) does not exist`);
    return parsePolicyText(text.value, `blob ${settings.POLICY_BLOB}`);
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
  const logsEndpoint = logsEndpointOf(settings);
  return createAzureClients({
    armEndpoint,
    credential: credentialFor(armEndpoint, settings.AZURE_CLIENT_ID),
    logsEndpoint,
    logsCredential: credentialFor(logsEndpoint, settings.AZURE_CLIENT_ID),
    throttle: { onRetry: log },
  });
}

/**
 * The Log Analytics export of the settings, or undefined when neither setting is set.
 * @throws SettingsError when only one of LOGS_INGESTION_ENDPOINT and LOGS_DCR_IMMUTABLE_ID is set
 */
function uploaderOfSettings(settings: Settings): LogsUploader | undefined {
  try {
    return uploaderFrom({
      endpoint: settings.LOGS_INGESTION_ENDPOINT,
      dcrImmutableId: settings.LOGS_DCR_IMMUTABLE_ID,
      names: { endpoint: 'LOGS_INGESTION_ENDPOINT', dcrImmutableId: 'LOGS_DCR_IMMUTABLE_ID' },
      cloud: settings.AZURE_CLOUD,
      credential: (endpoint) => credentialFor(endpoint, settings.AZURE_CLIENT_ID),
    });
  } catch (error) {
    if (error instanceof ExportConfigError) throw new SettingsError(`invalid settings: ${error.message}`);
    throw error;
  }
}

/**
 * What every entry point of the Function App shares, built once per invocation from the settings:
 * clients, the audit store, the alert ledger, the webhooks, the account states and the after-commit
 * step (the digest, then the states) that every scan — in one process or fanned out — runs.
 */
export interface Composition {
  readonly clients: AzureClients;
  readonly store: BlobStore;
  readonly state: StateStore;
  readonly ledger: AlertLedger;
  readonly webhooks: readonly WebhookConfig[];
  readonly afterCommit: AfterCommit;
  /** The Log Analytics export (`LOGS_INGESTION_ENDPOINT` with `LOGS_DCR_IMMUTABLE_ID`), when configured. */
  readonly uploader: LogsUploader | undefined;
  /** The scope the settings name (`SCAN_SUBSCRIPTIONS`, `SCAN_MANAGEMENT_GROUPS`). */
  readonly scope: ScanScope;
}

/**
 * The composition of the settings (docs/architecture.md, "Where each entry point joins").
 * @throws SettingsError naming the setting when webhooks are misconfigured; Error when no audit storage is set
 */
export function compose(settings: Settings, log: ProgressLog): Composition {
  // Invalid webhook settings stop the invocation before any request, naming the setting.
  const webhooks = loadWebhooks(process.env, settings.ALERT_MIN_SEVERITY);
  const store = auditStore(settings);
  const state = new StateStore(store.container);
  const kv = new BlobKeyValueStore(store.container);
  const ledger = new AlertLedger(kv);
  const uploader = uploaderOfSettings(settings);
  return {
    clients: clientsFor(settings, log),
    store,
    state,
    ledger,
    webhooks,
    uploader,
    afterCommit: async (committed) => {
      await afterScanCommit(committed, { state, webhooks, ledger, reportBaseUrl: settings.REPORT_BASE_URL, log });
      // The export never fails the commit; its outcome is in exports/{scanId}.json and the log.
      if (uploader) {
        await exportAfterCommit({
          scan: committed.scan, findings: committed.current, uploader, ledger: new ExportLedger(kv), findingsOf: (id) => store.scan(id), log,
        });
      }
    },
    scope: { subscriptions: settings.SCAN_SUBSCRIPTIONS, managementGroups: settings.SCAN_MANAGEMENT_GROUPS },
  };
}

/** A scan in this process with the composition's parts. */
async function scanHere(
  settings: Settings,
  c: Composition,
  log: ProgressLog,
  policy: Policy,
  run: { scanId: string } | { planned: PlannedScan },
): Promise<ScanResult> {
  return runScan({
    ...run,
    scope: c.scope,
    policy,
    deepInspection: settings.DEEP_INSPECTION,
    clients: c.clients,
    cloud: settings.AZURE_CLOUD,
    stores: [c.store],
    deepConcurrency: settings.DEEP_INSPECTION_CONCURRENCY,
    log,
    afterCommit: c.afterCommit,
  });
}

/**
 * A change event's evaluation with the settings' clients, store, scope, policy and webhooks.
 * @throws for transient failures (Event Grid retries) and invalid settings.
 */
export async function runChangeEvaluation(settings: Settings, event: ResourceEvent, log: ProgressLog, given?: Policy): Promise<ChangeResult> {
  const policy = given ?? (await policyOf(settings));
  const c = compose(settings, log);
  return evaluateChange(event, {
    arm: c.clients.arm,
    ...(c.clients.logs ? { logs: c.clients.logs } : {}),
    ...(c.uploader ? { uploader: c.uploader } : {}),
    cloud: settings.AZURE_CLOUD,
    graph: c.clients.graph,
    state: c.state,
    container: c.store.container,
    policy,
    scope: c.scope,
    deepInspection: settings.DEEP_INSPECTION,
    webhooks: c.webhooks,
    ledger: c.ledger,
    log,
  });
}

/**
 * The scheduled scan: takes the scan lock, plans the scan, then runs its shards here or, above
 * `SHARD_ABOVE_SUBSCRIPTIONS` subscriptions in scope, queues them; releases the lock. Returns
 * undefined (and logs why) when another scan holds the lock.
 */
export async function runScheduledScan(settings: Settings, log: ProgressLog, given?: Policy): Promise<ScanResult | StoredPlan | undefined> {
  const policy = given ?? (await policyOf(settings));
  const c = compose(settings, log);
  // Fanned-out scans whose shards did not all report in time are committed as partial first.
  for (const scanId of await finalizeOverdueScans({ container: c.store.container, log, afterCommit: c.afterCommit })) log(`overdue scan ${scanId} committed as partial`);
  const lock = new ScanLock(c.store.container);
  const scanId = newScanId(new Date());
  const taken = await lock.acquire(scanId, 'scheduled');
  if (!taken.acquired) {
    log(`skipped: scan ${taken.holder.scanId} (${taken.holder.trigger}) has been running since ${taken.holder.startedAt}`);
    return undefined;
  }
  try {
    // One plan decides the fan-out: the subscriptions in scope (the union of those named and those
    // under the named management groups, less exclusions), listed once.
    // The raw context rows are kept only for a fan-out, which stores them for its workers.
    const fansOut = (inScope: number) => inScope > settings.SHARD_ABOVE_SUBSCRIPTIONS;
    const planned = await planOf(
      { scanId, scope: c.scope, policy, deepInspection: settings.DEEP_INSPECTION, clients: c.clients, cloud: settings.AZURE_CLOUD, keepContext: fansOut },
      new Date(),
      log,
    );
    const inScope = planned.plan.subscriptions.length;
    if (fansOut(inScope)) {
      log(`${inScope} subscription(s) in scope, above SHARD_ABOVE_SUBSCRIPTIONS (${settings.SHARD_ABOVE_SUBSCRIPTIONS}): fanning out`);
      return await enqueueShards({
        planned,
        container: c.store.container,
        queue: auditQueue(settings, SHARD_QUEUE),
        timeoutMs: settings.SHARD_TIMEOUT_MINUTES * 60_000,
        log,
      });
    }
    return await scanHere(settings, c, log, policy, { planned });
  } finally {
    await lock.release(scanId);
  }
}

/**
 * One shard of a fanned-out scan (queue trigger `scanShard`), then the commit when it is the last.
 * The shard runs under the policy its plan fixed, not the current `POLICY_BLOB`.
 * @throws UnknownShardError (poison it) or a transient error (the queue retries).
 */
export async function runScanShard(settings: Settings, message: ShardMessage, log: ProgressLog): ReturnType<typeof runShard> {
  const c = compose(settings, log);
  return runShard(message, {
    container: c.store.container,
    clients: c.clients,
    deepConcurrency: settings.DEEP_INSPECTION_CONCURRENCY,
    afterCommit: c.afterCommit,
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
    return await scanHere(settings, compose(settings, log), log, policy, { scanId });
  } finally {
    await lock.release(scanId);
  }
}
