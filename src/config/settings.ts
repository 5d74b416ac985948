import { z } from 'zod';
import { LOGS_ENDPOINTS } from '../collect/accessLogs.js';
import { CLOUDS, logsEndpointFor } from '../collect/clients.js';
import { hasNoCredentials } from './endpoints.js';
import { ManagementGroupIdSchema, SubscriptionIdSchema } from './scopeIds.js';

const NO_CREDENTIALS = 'must not carry credentials (user:password@, a query such as a SAS sig=, or a fragment)';

/**
 * Function App settings (environment variables), validated at the edge. Every setting the code
 * reads is listed here, documented in the README and in `local.settings.sample.json`.
 */

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', 'TRUE', 'FALSE', 'True', 'False', '1', '0', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : ['true', '1'].includes(v.toLowerCase())));

export const SettingsSchema = z.object({
  /** NCRONTAB schedule of `scheduledScan` (six fields). Default: every 6 hours. */
  SCAN_SCHEDULE: z.string().min(1).default('0 0 */6 * * *'),
  /**
   * Subscriptions to scan (comma-separated GUIDs). Empty with no management groups: the whole tenant.
   * With management groups too: the union of both.
   */
  SCAN_SUBSCRIPTIONS: list.pipe(z.array(SubscriptionIdSchema)),
  /** Management groups to scan (comma-separated IDs). */
  SCAN_MANAGEMENT_GROUPS: list.pipe(z.array(ManagementGroupIdSchema)),
  /** `AzureCloud` (default), `AzureUSGovernment` or `AzureChinaCloud`. */
  AZURE_CLOUD: z
    .enum(Object.keys(CLOUDS) as [keyof typeof CLOUDS, ...Array<keyof typeof CLOUDS>])
    .default('AzureCloud'),
  /** ARM endpoint override; default from AZURE_CLOUD. Must be https. */
  ARM_ENDPOINT: z.string().url().startsWith('https://').refine(hasNoCredentials, NO_CREDENTIALS).optional(),
  /** Log Analytics query endpoint override (NSP-07); default from AZURE_CLOUD (the simulator's own with a loopback ARM_ENDPOINT). Must be https. */
  LOGS_ENDPOINT: z.string().url().startsWith('https://').refine(hasNoCredentials, NO_CREDENTIALS).optional(),
  /**
   * Logs Ingestion endpoint of the data collection rule the findings are exported to (its
   * `properties.endpoints.logsIngestion`, a `Direct` rule; AZURE-FACTS.md "Logs Ingestion API"). Unset: no export.
   */
  LOGS_INGESTION_ENDPOINT: z.string().url().startsWith('https://').refine(hasNoCredentials, NO_CREDENTIALS).optional(),
  /** Immutable ID of that data collection rule (`dcr-…`). Required with LOGS_INGESTION_ENDPOINT. */
  LOGS_DCR_IMMUTABLE_ID: z.string().regex(/^dcr-[0-9a-f]{32}$/i, 'a data collection rule immutable ID (dcr- and 32 hex digits)').optional(),
  /** Read per-account perimeter configurations (NSP-05, NSP-06). Default true. */
  DEEP_INSPECTION: bool(true),
  /** Concurrent per-account ARM reads during deep inspection (count). Default 8. */
  DEEP_INSPECTION_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  /**
   * Fan-out: a scheduled scan of more subscriptions than this is split into shards of at most 300
   * subscriptions on the `scan-shards` queue (src/shards.ts). Default 1000; 0 shards every scan.
   */
  SHARD_ABOVE_SUBSCRIPTIONS: z.coerce.number().int().min(0).default(1000),
  /** Minutes after planning when a fanned-out scan with missing shards is committed as `partial`. Default 120. */
  SHARD_TIMEOUT_MINUTES: z.coerce.number().int().min(1).max(10_080).default(120),
  /** Blob endpoint of the audit store, e.g. https://<account>.blob.core.windows.net (identity-based). */
  AUDIT_STORAGE_ACCOUNT_URL: z.string().url().refine(hasNoCredentials, NO_CREDENTIALS).optional(),
  /**
   * Client ID (a GUID) of the user-assigned managed identity the app signs in with, for Resource Graph,
   * Resource Manager, Blob and Queue. Unset: `DefaultAzureCredential`'s chain (a system-assigned
   * identity, or a developer's `az login`). infra/ sets it to the Function App's identity.
   */
  AZURE_CLIENT_ID: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a client ID (GUID)').optional(),
  /** Connection string of the audit store (Azurite / local development only). */
  AUDIT_STORAGE_CONNECTION_STRING: z.string().min(1).optional(),
  /**
   * Alert webhooks, JSON: `[{ "name": "SECOPS", "format": "cloudevents"|"teams"|"slack", "minSeverity"?: …,
   * "allowPrivateDestinations"?: false }]`; each webhook's URL and secret are in `ALERT_WEBHOOK_<NAME>_URL`
   * and `ALERT_WEBHOOK_<NAME>_SECRET` (src/config/alerts.ts).
   */
  ALERT_WEBHOOKS: z.string().optional(),
  /** Lowest severity alerted, unless a webhook sets its own. Default `high`. */
  ALERT_MIN_SEVERITY: z.enum(['high', 'medium', 'low']).default('high'),
  /** Base URL of the reports API (`https://<app>.azurewebsites.net/api`), for links in alerts. */
  REPORT_BASE_URL: z.string().url().startsWith('https://').refine(hasNoCredentials, NO_CREDENTIALS).optional(),
  /** The policy itself (YAML or JSON text), e.g. a Key Vault reference or an app setting. */
  POLICY: z.string().optional(),
  /** Name of a blob in the audit container holding the policy (used when POLICY is not set). */
  POLICY_BLOB: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,1000}$/, 'a blob name').optional(),
  /** Blob container for scans. Default `audit`. */
  AUDIT_CONTAINER: z
    .string()
    .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'a valid container name')
    .default('audit'),
});

export type Settings = z.infer<typeof SettingsSchema>;

/**
 * Settings of {@link SettingsSchema} that the deployment in `infra/` deliberately does not set, and why.
 * The infrastructure drift test (test/infra/drift.test.ts) requires infra/ to set every other setting.
 */
export const SETTINGS_NOT_DEPLOYED: Readonly<Partial<Record<keyof Settings, string>>> = {
  AUDIT_STORAGE_CONNECTION_STRING: 'a connection string carries the account key; in Azure the app uses its identity (shared-key access is off)',
  ARM_ENDPOINT: 'derived from AZURE_CLOUD; an override for the local ARM simulator only',
  LOGS_ENDPOINT: 'derived from AZURE_CLOUD; an override for the local simulator only',
  POLICY: 'multi-line policy text does not pass through azd parameters; infra/ sets POLICY_BLOB, a blob in the audit container (docs/deploy.md)',
};

/**
 * Settings that the Functions host or the platform reads, not this code; infra/ sets them and the drift
 * test accepts them. Source: "Connecting to host storage with an identity" (AzureWebJobsStorage__*) and
 * "Application Insights connection strings" (Azure Functions app settings reference).
 */
export const PLATFORM_SETTINGS: readonly string[] = [
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__queueServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
];

/** Thrown when settings do not validate; the message names each setting (never its value). */
export class SettingsError extends Error {}

/**
 * Reads and validates settings from an environment.
 * @throws SettingsError naming the offending settings, or when no audit store is configured.
 */
export function loadSettings(env: Record<string, string | undefined>): Settings {
  // An empty setting means unset (a blank in local.settings.json or the portal).
  const picked = Object.fromEntries(
    Object.keys(SettingsSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = SettingsSchema.safeParse(picked);
  if (!parsed.success) {
    throw new SettingsError(
      `invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  if (!parsed.data.AUDIT_STORAGE_ACCOUNT_URL && !parsed.data.AUDIT_STORAGE_CONNECTION_STRING) {
    throw new SettingsError(
      'invalid settings: set AUDIT_STORAGE_ACCOUNT_URL (or AUDIT_STORAGE_CONNECTION_STRING for Azurite)',
    );
  }
  return parsed.data;
}

/** The Log Analytics query endpoint the settings select (NSP-07). */
export function logsEndpointOf(settings: Pick<Settings, 'ARM_ENDPOINT' | 'LOGS_ENDPOINT' | 'AZURE_CLOUD'>): string {
  return settings.LOGS_ENDPOINT ?? (settings.ARM_ENDPOINT ? logsEndpointFor(settings.ARM_ENDPOINT) : LOGS_ENDPOINTS[settings.AZURE_CLOUD]);
}

/** The ARM endpoint the settings select. */
export function armEndpointOf(settings: Pick<Settings, 'ARM_ENDPOINT' | 'AZURE_CLOUD'>): string {
  return settings.ARM_ENDPOINT ?? CLOUDS[settings.AZURE_CLOUD];
}
