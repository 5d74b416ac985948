import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { replayDeadLetters } from './alerts/dispatch.js';
import { AlertLedger, BlobKeyValueStore, DirectoryKeyValueStore, type KeyValueStore } from './alerts/ledger.js';
import { alertOnScan } from './alerts/scanAlerts.js';
import { LOGS_ENDPOINTS } from './collect/accessLogs.js';
import { type AzureClients, CLOUDS, createAzureClients, credentialFor, isLoopbackHttps, logsEndpointFor } from './collect/clients.js';
import { loadWebhooks } from './config/alerts.js';
import { SettingsError, SettingsSchema } from './config/settings.js';
import { defaultPolicy, describePolicy, loadPolicyFile, type Policy } from './config/policy.js';
import { catalogEntry, SEVERITIES, type Severity } from './domain/rule.js';
import { hasFailAtOrAbove } from './engine/summary.js';
import { coverageOf, scanHeadline } from './reports/coverage.js';
import type { ScanDocument } from './store/scanDocument.js';
import { checkEndpoint } from './config/endpoints.js';
import { ManagementGroupIdSchema, SubscriptionIdSchema } from './config/scopeIds.js';
import { parseReportFormats, REPORT_FORMATS, type ReportFormat } from './reports/index.js';
import { rerenderReports } from './reports/rerender.js';
import { readinessOf, readinessText } from './reports/readiness.js';
import { ExportConfigError, type ExportRecord, ExportLedger, exportAfterCommit, exportLine, exportScan, type LogsUploader, uploaderFrom } from './export/logsExport.js';
import type { FindingSource } from './store/artifact.js';
import { isScanId } from './store/scanDocument.js';
import { RULES } from './rules/index.js';
import { parseResourceId, sameId } from './domain/resourceId.js';
import { runScan, type ScanResult } from './scan.js';
import type { ScanScope } from './collect/collector.js';
import { auditContainer } from './store/blob.js';
import { BlobStore, DirectoryStore, type ScanStore } from './store/stores.js';
import { plainProgress, type ScanProgress, wantsPlainProgress } from './terminalProgress.js';
import { FAULT_SYNTAX, parseFault, parseTenantChoice, SimulateUsageError, type Fault, type TenantChoice } from './simulate.js';

/**
 * `perimeter-auditor`: scan, rules, demo (ARCHITECTURE.md, "CLI").
 * Exit codes (README "CLI reference"): 0 the scan is complete and has no `fail` at or above
 * `--fail-on`; 1 it has one (whatever the coverage); 2 the scan could not run; 3 the scan is partial
 * and has no such fail (`--allow-partial` makes it 0).
 * Progress goes to stderr; the summary table to stdout; machine output to files.
 */

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_ERROR = 2;
export const EXIT_PARTIAL = 3;

/** Thrown for a flag whose value cannot be used; the message names the flag and the value. */
export class UsageError extends Error {}

/** Thrown when no credential can get a token for an endpoint; the message says how to sign in, then what each credential said, whole. */
export class CredentialError extends Error {}

/** This package's version (package.json, two folders above the compiled `dist/src/cli.js`); `unknown` when it cannot be read. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The environment variables `scan` reads (README "CLI reference"), name and meaning, for `--help`. */
export const SCAN_ENVIRONMENT: ReadonlyArray<readonly [string, string]> = [
  ['AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET', 'a service principal for DefaultAzureCredential (else az login, a managed identity, …)'],
  ['AZURE_CLIENT_ID (alone)', 'the user-assigned managed identity to use'],
  ['NODE_EXTRA_CA_CERTS', 'a PEM file of extra CAs to trust (the simulator\'s certificate)'],
  ['ALERT_WEBHOOKS', 'JSON list of webhooks ({ name, format, minSeverity? }) to send the scan\'s changes to'],
  ['ALERT_WEBHOOK_<NAME>_URL, ALERT_WEBHOOK_<NAME>_SECRET', 'each webhook\'s URL and Standard Webhooks secret'],
  ['ALERT_MIN_SEVERITY', 'high, medium or low: the default least severity alerted (default high)'],
  ['REPORT_BASE_URL', 'the reports API base URL, for report links in alerts'],
  ['CI', 'set (any value but 0/false): plain progress lines instead of progress bars'],
];

/**
 * The exit code of a scan: a fail at or above `failOn` (exemptions excluded) wins; else a partial
 * scan is 3 unless `allowPartial`; else 0. A partial scan's missing data could hold a fail, so a
 * pipeline must not read it as clean unless it chose to.
 */
export function exitCodeOf(scan: ScanDocument, failOn: Severity, allowPartial: boolean): number {
  if (hasFailAtOrAbove(scan.summary, failOn)) return EXIT_FINDINGS;
  if (scan.status === 'partial' && !allowPartial) return EXIT_PARTIAL;
  return EXIT_OK;
}

function progress(message: string): void {
  process.stderr.write(`[perimeter-auditor] ${message}\n`);
}

/**
 * The display of a long run (scan, readiness) on stderr: progress bars on a terminal (progressBars.ts,
 * cli-progress), plain lines when stderr is not a terminal or `CI` is set (terminalProgress.ts), with
 * the quota's waits said either way.
 */
async function scanProgress(): Promise<ScanProgress> {
  const plain = plainProgress((text) => process.stderr.write(text));
  if (wantsPlainProgress(process.stderr, process.env)) return plain;
  const { barProgress } = await import('./progressBars.js');
  return barProgress(process.stderr);
}

function collectRepeatable(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

function parseFormats(value: string): ReportFormat[] {
  try {
    return parseReportFormats(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `--days`: an integer number of days, 1–90 (RULES.md `readinessWindowDays`). */
function parseDays(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 90) throw new InvalidArgumentError('expected a whole number of days from 1 to 90');
  return n;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** The readable summary printed after a scan. */
export function summaryTable(result: ScanResult): string {
  const { scan } = result;
  const lines: string[] = [];
  const header = ['rule', 'severity', 'pass', 'fail', 'unknown', 'n/a', 'title'];
  const widths = [8, 8, 6, 6, 8, 6, 0];
  lines.push(header.map((h, i) => pad(h, widths[i] ?? 0)).join(' '));
  for (const rule of scan.rules) {
    const c = scan.summary.byRule[rule.id] ?? { pass: 0, fail: 0, unknown: 0, not_applicable: 0 };
    const row = [
      rule.id,
      rule.severity,
      String(c.pass),
      String(c.fail),
      String(c.unknown),
      String(c.not_applicable),
      rule.title,
    ];
    lines.push(row.map((v, i) => pad(v, widths[i] ?? 0)).join(' '));
  }
  const t = scan.summary.byOutcome;
  const coverage = coverageOf(scan);
  const ex = scan.summary.exempted?.failsBySeverity ?? { high: 0, medium: 0, low: 0 };
  const fails = SEVERITIES.map((sev) => `${sev} ${scan.summary.bySeverity[sev].fail - ex[sev]}${ex[sev] ? ` (+${ex[sev]} exempted)` : ''}`);
  lines.push('');
  lines.push(`scan ${scan.scanId}: ${scan.status}${scan.status === 'partial' ? ' (some data could not be read; verdicts on it are unknown)' : ''}`);
  lines.push(`headline: ${scanHeadline(scan).text}`);
  lines.push(`coverage: ${coverage.text}`);
  const unreadable = scan.coverage.subscriptions.filter((s) => s.status === 'unreadable');
  lines.push(
    `subscriptions: ${scan.coverage.subscriptions.length} in scope, ${unreadable.length} unreadable${unreadable.length ? ` (${unreadable.map((s) => s.id).join(', ')})` : ''}`,
  );
  lines.push(`accounts: ${scan.coverage.accounts}; findings: ${t.pass + t.fail + t.unknown + t.not_applicable}`);
  const exemptedFails = scan.summary.exempted?.byOutcome.fail ?? 0;
  lines.push(`outcomes: pass ${t.pass}, fail ${t.fail}${exemptedFails ? ` (${exemptedFails} exempted)` : ''}, unknown ${t.unknown}, not_applicable ${t.not_applicable}`);
  lines.push(`fails by severity: ${fails.join(', ')}`);
  lines.push(
    `resource graph pages ${scan.stats.resourceGraphPages}, ARM calls ${scan.stats.armRequests}, throttled ${scan.stats.throttledResponses}, wall ${scan.stats.durationMs} ms`,
  );
  for (const p of scan.coverage.problems.slice(0, 5)) lines.push(`problem: ${p}`);
  if (scan.coverage.problems.length > 5)
    lines.push(`… and ${scan.coverage.problems.length - 5} more problem(s) in scan.json`);
  return `${lines.join('\n')}\n`;
}

interface ScanFlags {
  subscription: string[];
  managementGroup: string[];
  output: string;
  armEndpoint?: string;
  logsEndpoint?: string;
  cloud: keyof typeof CLOUDS;
  policy?: string;
  format: ReportFormat[];
  deep: boolean;
  failOn: Severity;
  allowPartial: boolean;
  blobAccountUrl?: string;
  blobConnectionString?: string;
  container: string;
  logsIngestionEndpoint?: string;
  dcrImmutableId?: string;
}

/**
 * The Log Analytics export of the flags (`--logs-ingestion-endpoint` with `--dcr-immutable-id`), checked
 * before any request; undefined when neither is given.
 * @throws UsageError when only one is given, or either is malformed (naming the flag)
 */
function uploaderOfFlags(flags: Pick<ScanFlags, 'logsIngestionEndpoint' | 'dcrImmutableId' | 'cloud'>): LogsUploader | undefined {
  if (flags.logsIngestionEndpoint) checkEndpoint('--logs-ingestion-endpoint', flags.logsIngestionEndpoint, { https: true });
  try {
    return uploaderFrom({
      endpoint: flags.logsIngestionEndpoint,
      dcrImmutableId: flags.dcrImmutableId,
      names: { endpoint: '--logs-ingestion-endpoint', dcrImmutableId: '--dcr-immutable-id' },
      cloud: flags.cloud,
      credential: (endpoint) => credentialFor(endpoint),
      throttle: { onRetry: progress },
    });
  } catch (error) {
    if (error instanceof ExportConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/** The stored findings of a scan, from a directory (its one scan) or the Blob store, for the export's retries. */
function storedScanOf(stores: readonly ScanStore[]): (scanId: string) => Promise<{ scan: ScanDocument; findings: FindingSource } | undefined> {
  return async (scanId) => {
    for (const s of stores) {
      const stored = s instanceof BlobStore ? await s.scan(scanId) : await s.current();
      if (stored && stored.scan.scanId === scanId) return stored;
    }
    return undefined;
  };
}

async function loadPolicy(path: string | undefined, deep: boolean): Promise<Policy> {
  const policy = path ? await loadPolicyFile(path) : defaultPolicy();
  return deep ? policy : { ...policy, deepInspection: false };
}

/**
 * The scope flags, checked before any request: every `--subscription` a GUID (or
 * `/subscriptions/{guid}`), every `--management-group` a management group ID.
 * @throws UsageError naming the first bad value
 */
export function scopeFromFlags(flags: { subscription: readonly string[]; managementGroup: readonly string[] }): ScanScope {
  // The same schemas as the settings and the policy; their message names what is expected.
  const ids = (flag: string, values: readonly string[], schema: typeof SubscriptionIdSchema) =>
    values.map((v) => {
      const parsed = schema.safeParse(v);
      if (!parsed.success) throw new UsageError(`${flag} '${v}' is ${parsed.error.issues[0]?.message ?? 'not valid'}`);
      return parsed.data;
    });
  const subscriptions = ids('--subscription', flags.subscription, SubscriptionIdSchema);
  const managementGroups = ids('--management-group', flags.managementGroup, ManagementGroupIdSchema);
  return { subscriptions: [...new Set(subscriptions)], managementGroups: [...new Set(managementGroups)] };
}

/**
 * The ARM and Log Analytics endpoints of the flags, checked (https, no credentials in the URL).
 * @throws EndpointError naming the flag
 */
function endpointsOf(flags: Pick<ScanFlags, 'armEndpoint' | 'logsEndpoint' | 'cloud'>): { armEndpoint: string; logsEndpoint: string } {
  const armEndpoint = checkEndpoint('--arm-endpoint', flags.armEndpoint ?? CLOUDS[flags.cloud], { https: true }).toString().replace(/\/$/, '');
  const logsEndpoint = flags.logsEndpoint
    ? checkEndpoint('--logs-endpoint', flags.logsEndpoint, { https: true }).toString().replace(/\/$/, '')
    : flags.armEndpoint ? logsEndpointFor(armEndpoint) : LOGS_ENDPOINTS[flags.cloud];
  return { armEndpoint, logsEndpoint };
}

/**
 * The SDK clients for the flags' endpoints: the development token for https loopback ones, else
 * Azure's credential chain, which must give a token for ARM before the first query.
 * @throws CredentialError when no credential gets one (naming `az login` and every credential's answer)
 */
async function clientsFor(flags: Pick<ScanFlags, 'armEndpoint' | 'logsEndpoint' | 'cloud'>, display: ScanProgress): Promise<AzureClients> {
  const { armEndpoint, logsEndpoint } = endpointsOf(flags);
  for (const e of new Set([armEndpoint, logsEndpoint])) if (isLoopbackHttps(e)) progress(`using the development token for the loopback endpoint ${e}`);
  const credential = credentialFor(armEndpoint);
  await requireToken(credential, armEndpoint);
  return createAzureClients({
    armEndpoint,
    credential,
    logsEndpoint,
    logsCredential: credentialFor(logsEndpoint),
    throttle: display.throttle,
  });
}

/**
 * Asks `credential` for a token for ARM at `armEndpoint` (the audience the clients use: a known
 * cloud's endpoint, else the public cloud's) before the first query, so that a missing sign-in is
 * said at once and whole, not cut inside a failed query.
 * @throws CredentialError: how to sign in, then the credential chain's own message, every line of it
 */
export async function requireToken(credential: TokenCredential, armEndpoint: string): Promise<void> {
  if (isLoopbackHttps(armEndpoint)) return;
  const audience = Object.values(CLOUDS).find((c) => c === armEndpoint.replace(/\/+$/, '')) ?? CLOUDS.AzureCloud;
  let reason: string;
  try {
    if (await credential.getToken(`${audience}/.default`)) return;
    reason = 'the credential chain returned no token';
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  throw new CredentialError(
    [
      `no Azure credential could get a token for Azure Resource Manager (${audience}), so nothing was scanned.`,
      'Sign in with `az login` (add `--tenant <tenant-id>` for another tenant), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and',
      'AZURE_CLIENT_SECRET for a service principal, or run where a managed identity is assigned. What each credential said:',
      ...reason.split('\n').map((l) => `  ${l.trim()}`),
    ].join('\n'),
  );
}

/**
 * Probes every destination before the first query (a write and a delete, stores/*.probe), so an
 * `--output` that is a file or a Blob endpoint that refuses connections fails in seconds.
 * @throws DestinationError naming the store and the reason
 */
async function probeDestinations(stores: readonly ScanStore[]): Promise<void> {
  for (const store of stores) {
    await store.probe?.();
    progress(`destination ${store.location} can be written`);
  }
}

async function scanCommand(flags: ScanFlags): Promise<number> {
  // Every input is checked before the first request (and no message repeats URL credentials).
  const scope = scopeFromFlags(flags);
  endpointsOf(flags);
  if (flags.blobAccountUrl) checkEndpoint('--blob-account-url', flags.blobAccountUrl, { https: true });
  if (!SettingsSchema.shape.AUDIT_CONTAINER.safeParse(flags.container).success)
    throw new UsageError(`--container '${flags.container}' is not a Blob container name (3–63 lower-case letters, digits and single hyphens)`);
  const policy = await loadPolicy(flags.policy, flags.deep);
  const webhooks = loadWebhooks(process.env, minSeverityFromEnv());
  const stores: ScanStore[] = [new DirectoryStore(resolve(flags.output))];
  let ledgerStore: KeyValueStore = new DirectoryKeyValueStore(resolve(flags.output));
  if (flags.blobAccountUrl || flags.blobConnectionString) {
    const blob = new BlobStore(
      auditContainer({ accountUrl: flags.blobAccountUrl, connectionString: flags.blobConnectionString, container: flags.container }),
    );
    stores.push(blob);
    ledgerStore = new BlobKeyValueStore(blob.container);
  }
  const ledger = new AlertLedger(ledgerStore);
  const uploader = uploaderOfFlags(flags);
  await probeDestinations(stores);
  const display = await scanProgress();
  const clients = await clientsFor(flags, display);
  display.watch(clients);
  let exported: ExportRecord | undefined;
  const result = await runScan({
    scope,
    policy,
    clients,
    cloud: flags.cloud,
    stores,
    formats: flags.format,
    log: display.log,
    afterCommit: async ({ scan, previous, current }) => {
      await alertOnScan({ scan, previous, current, webhooks, ledger, reportBaseUrl: process.env.REPORT_BASE_URL, log: progress });
      // After the commit, never failing it (src/export/logsExport.ts).
      if (uploader) {
        const exportLedger = new ExportLedger(ledgerStore);
        exported = await exportAfterCommit({ scan, findings: current, uploader, ledger: exportLedger, findingsOf: storedScanOf(stores), log: progress });
      }
    },
  }).finally(() => display.stop());
  process.stdout.write(summaryTable(result));
  if (uploader) process.stdout.write(`${exported ? exportLine(exported) : `export: scan ${result.scan.scanId} was not exported (see the lines above)`}\n`);
  process.stdout.write(`files: ${stores.map((s) => s.location).join(', ')}\n`);
  const code = exitCodeOf(result.scan, flags.failOn, flags.allowPartial);
  if (code === EXIT_PARTIAL) progress('exit 3: the scan is partial (see coverage); --allow-partial accepts partial scans');
  return code;
}

interface ExportFlags extends Pick<ScanFlags, 'output' | 'blobAccountUrl' | 'blobConnectionString' | 'container' | 'logsIngestionEndpoint' | 'dcrImmutableId' | 'cloud'> {
  scan: string;
}

/**
 * `export logs --scan ID`: the stored scan's rows that its export ledger says did not arrive (all
 * of them when it was never exported), and nothing else.
 * @returns 0 when every row has arrived, 1 when some still did not, 2 (thrown) for bad input or an unknown scan
 */
async function exportLogsCommand(flags: ExportFlags): Promise<number> {
  if (!isScanId(flags.scan)) throw new UsageError(`--scan '${flags.scan}' is not a scan ID (2026-11-21T03-00-00Z-abc123)`);
  if (flags.blobAccountUrl) checkEndpoint('--blob-account-url', flags.blobAccountUrl, { https: true });
  const uploader = uploaderOfFlags(flags);
  if (!uploader) throw new UsageError('--logs-ingestion-endpoint and --dcr-immutable-id are required');
  const blob = flags.blobAccountUrl || flags.blobConnectionString
    ? new BlobStore(auditContainer({ accountUrl: flags.blobAccountUrl, connectionString: flags.blobConnectionString, container: flags.container }))
    : undefined;
  const store: ScanStore = blob ?? new DirectoryStore(resolve(flags.output));
  const kv: KeyValueStore = blob ? new BlobKeyValueStore(blob.container) : new DirectoryKeyValueStore(resolve(flags.output));
  const stored = await storedScanOf([store])(flags.scan);
  if (!stored) throw new UsageError(`scan ${flags.scan} is not in ${store.location}`);
  const record = await exportScan({ scan: stored.scan, findings: stored.findings, uploader, ledger: new ExportLedger(kv) });
  process.stdout.write(`${exportLine(record)}\n`);
  return record.status === 'sent' ? EXIT_OK : EXIT_FINDINGS;
}

interface ReadinessFlags extends Pick<ScanFlags, 'subscription' | 'managementGroup' | 'armEndpoint' | 'logsEndpoint' | 'cloud' | 'policy'> {
  account?: string;
  days?: number;
  bicep: boolean;
  json: boolean;
}

/**
 * `readiness`: the scan pipeline with NSP-07 alone (deep inspection on), nothing stored; prints each
 * Learning-mode account's would-be-denied flows and the access rules that keep them working.
 * @returns 0 when no account would lose traffic, 1 when one would, 3 when some could not be judged
 *   (unknown) and none would; 2 (thrown UsageError) for a bad flag or an account out of scope
 */
async function readinessCommand(flags: ReadinessFlags): Promise<number> {
  let scope = scopeFromFlags(flags);
  const account = flags.account === undefined ? undefined : parseResourceId(flags.account);
  if (flags.account !== undefined && (!account || !/^microsoft\.cognitiveservices\/accounts$/i.test(account.type)))
    throw new UsageError(`--account '${flags.account}' is not a Microsoft.CognitiveServices/accounts resource ID`);
  const base = await loadPolicy(flags.policy, true);
  const display = await scanProgress();
  const clients = await clientsFor(flags, display);
  display.watch(clients);
  // One account: its subscription, unless the flags name a scope.
  if (account && scope.subscriptions.length === 0 && scope.managementGroups.length === 0)
    scope = { subscriptions: [account.subscriptionId], managementGroups: [] };
  const policy: Policy = {
    ...base,
    deepInspection: true,
    enabledRules: new Set(['NSP-07']),
    parameters: { ...base.parameters, ...(flags.days === undefined ? {} : { readinessWindowDays: flags.days }) },
    ...(account ? { scope: { ...base.scope, include: { ...base.scope.include, resourceGroups: [`/subscriptions/${account.subscriptionId}/resourceGroups/${account.resourceGroup}`] } } } : {}),
  };
  const result = await runScan({ scope, policy, clients, cloud: flags.cloud, stores: [], formats: [], log: display.log, retainFindings: true })
    .finally(() => display.stop());
  let accounts = readinessOf(result.findings);
  if (flags.account !== undefined) {
    accounts = accounts.filter((a) => sameId(a.finding.resourceId, flags.account ?? ''));
    if (accounts.length === 0) {
      const seen = result.findings.find((f) => sameId(f.resourceId, flags.account ?? ''));
      if (!seen) throw new UsageError(`--account '${flags.account}' was not found in the scan's scope`);
      process.stdout.write(`${seen.accountName}: not in Learning mode (${seen.message})
`);
      return EXIT_OK;
    }
  }
  const plans = accounts.map((a) => ({
    resourceId: a.finding.resourceId,
    outcome: a.finding.outcome,
    message: a.finding.message,
    flows: a.flows,
    proposedRules: a.rules,
    unplannedFlows: a.unplanned,
  }));
  if (flags.json) process.stdout.write(`${JSON.stringify(plans, null, 2)}\n`);
  else if (accounts.length === 0) process.stdout.write('no account in scope is associated with a perimeter in Learning mode\n');
  else process.stdout.write(readinessText(accounts, { bicep: flags.bicep }));
  if (accounts.some((a) => a.finding.outcome === 'fail')) return EXIT_FINDINGS;
  if (accounts.some((a) => a.finding.outcome === 'unknown') || result.scan.status === 'partial') return EXIT_PARTIAL;
  return EXIT_OK;
}

/** `ALERT_MIN_SEVERITY`, validated by the same schema as the Function App's settings. */
function minSeverityFromEnv(): Severity {
  const parsed = SettingsSchema.shape.ALERT_MIN_SEVERITY.safeParse(process.env.ALERT_MIN_SEVERITY || undefined);
  if (!parsed.success) throw new SettingsError('invalid settings: ALERT_MIN_SEVERITY must be high, medium or low');
  return parsed.data;
}

async function replayCommand(flags: { output?: string; blobAccountUrl?: string; blobConnectionString?: string; container: string }): Promise<number> {
  if (flags.blobAccountUrl) checkEndpoint('--blob-account-url', flags.blobAccountUrl, { https: true });
  const webhooks = loadWebhooks(process.env, minSeverityFromEnv());
  const kv: KeyValueStore
    = flags.blobAccountUrl || flags.blobConnectionString
      ? new BlobKeyValueStore(auditContainer({ accountUrl: flags.blobAccountUrl, connectionString: flags.blobConnectionString, container: flags.container }))
      : new DirectoryKeyValueStore(resolve(flags.output ?? './audit-output'));
  const totals = await replayDeadLetters(webhooks, new AlertLedger(kv), { log: progress });
  process.stdout.write(`replayed: ${totals.delivered} delivered, ${totals.failed} failed again, ${totals.unknownWebhook} for webhooks no longer configured\n`);
  return totals.failed + totals.unknownWebhook === 0 ? EXIT_OK : EXIT_FINDINGS;
}

function rulesCommand(flags: { json?: boolean }): number {
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(RULES.map(catalogEntry), null, 2)}\n`);
    return EXIT_OK;
  }
  for (const r of RULES) {
    process.stdout.write(
      `${pad(r.id, 8)} ${pad(r.severity, 7)} ${r.enabledByDefault ? 'on ' : 'off'} ${r.slug}: ${r.title}\n`,
    );
  }
  return EXIT_OK;
}

const EXIT_CODES_HELP = `Exit codes (scan):
  0  the scan is complete and has no fail at or above --fail-on
  1  a fail at or above --fail-on (whatever the coverage)
  2  the scan could not run: a bad flag, ID, endpoint, setting or policy file; no credential; a
     destination that cannot be written; no subscription in scope could be read; a store write failed
  3  the scan is partial (something could not be read) and has no such fail; --allow-partial makes it 0
Other commands exit 0 when done and 2 when they could not run (readiness, export logs and alerts
replay also use 1 and 3: see their help and the README).`;

const PROGRAM_HELP = `
Examples:
  $ az login && perimeter-auditor scan --output ./audit-output
  $ perimeter-auditor scan --subscription <id> --fail-on medium --format html,sarif
  $ perimeter-auditor report --scan ./audit-output --previous ./last-week --format html
  $ perimeter-auditor simulate --tenant sample          # then scan it: see the lines it prints
  $ perimeter-auditor policy validate policy.yaml

${EXIT_CODES_HELP}

Progress goes to stderr, the summary to stdout, machine output to files. More: README "CLI reference".`;

const SCAN_HELP = `
Examples:
  $ az login && perimeter-auditor scan --output ./audit-output
  $ perimeter-auditor scan --management-group contoso-prod --fail-on medium --allow-partial
  $ perimeter-auditor scan --subscription <id> --blob-account-url https://<account>.blob.core.windows.net
  $ NODE_EXTRA_CA_CERTS=<caFile> perimeter-auditor scan --arm-endpoint https://127.0.0.1:<port>   # a simulator

Every destination (--output, the Blob container) is probed with a write before the first query, and a
token for Azure Resource Manager is asked for, so a wrong path, endpoint or sign-in fails in seconds.

${EXIT_CODES_HELP}

Environment variables read by scan:
${SCAN_ENVIRONMENT.map(([name, meaning]) => `  ${name}\n      ${meaning}`).join('\n')}`;

const REPORT_HELP = `
Examples:
  $ perimeter-auditor report --scan ./audit-output                       # every format, into the scan directory
  $ perimeter-auditor report --scan ./audit-output --format html --previous ./last-week --output ./site

Exits 0 when the reports were written; 2 when --format names no format, or the scan directory cannot
be read or its findings.ndjson does not hold what scan.json says.`;

const SIMULATE_HELP = `
Serves the HTTPS ARM simulator (Resource Graph with its real quota, perimeter configurations, Log
Analytics) on an ephemeral loopback port and prints the endpoint, the NODE_EXTRA_CA_CERTS line and a
scan command to paste in another shell. Needs the dev dependencies (npm ci in a clone).

Faults:
  graph-429[:N]            the first N Resource Graph queries (default 3) answer 429 with Retry-After: 1
  arm-403:<subscription>   ARM reads under that subscription (perimeter configurations) answer 403
  logs-403                 Log Analytics queries (NSP-07's access logs) answer 403
  slow:<ms>                every answer is delayed by <ms> milliseconds

Examples:
  $ perimeter-auditor simulate
  $ perimeter-auditor simulate --tenant generated:500 --fault graph-429:5 --fault slow:200

Runs until interrupted (Ctrl-C or SIGTERM), then closes and exits 0; exits 2 for a bad --tenant or --fault.`;

/** Builds the command-line program; `run` sets `process.exitCode`. */
export function program(): Command {
  const cmd = new Command('perimeter-auditor')
    .description('Audits Azure AI accounts (Microsoft.CognitiveServices/accounts) against their network boundary.')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .showHelpAfterError()
    .exitOverride()
    .addHelpText('after', PROGRAM_HELP);

  cmd
    .command('scan')
    .description('scan a tenant, management groups or subscriptions and write scan.json + findings.ndjson')
    .option('--subscription <id>', 'subscription to scan (repeatable, or comma-separated)', collectRepeatable, [])
    .option('--management-group <id>', 'management group to scan (repeatable)', collectRepeatable, [])
    .option('--output <dir>', 'directory for the output files', './audit-output')
    .option('--arm-endpoint <url>', 'Azure Resource Manager endpoint (default from --cloud)')
    .option('--logs-endpoint <url>', 'Log Analytics query endpoint for NSP-07 (default from --cloud; the simulator\'s own with a loopback --arm-endpoint)')
    .addOption(new Option('--cloud <name>', 'Azure cloud').choices(Object.keys(CLOUDS)).default('AzureCloud'))
    .option('--policy <file>', 'policy file (YAML or JSON): scope, rules, parameters, exemptions')
    .option('--format <list>', `report formats beside scan.json (${REPORT_FORMATS.join(', ')})`, parseFormats, [...REPORT_FORMATS])
    .option('--no-deep', 'skip per-account perimeter configuration reads (NSP-05, NSP-06 do not run)')
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 when a fail at or above this severity exists')
        .choices([...SEVERITIES])
        .default('high'),
    )
    .option('--allow-partial', 'exit 0 instead of 3 when the scan is partial and has no fail at or above --fail-on', false)
    .option('--blob-account-url <url>', 'also write to this Blob account (Entra ID auth), under scans/{scanId}/')
    .option('--blob-connection-string <cs>', 'also write to Blob with a connection string (Azurite)')
    .option('--container <name>', 'Blob container', 'audit')
    .option('--logs-ingestion-endpoint <url>', 'export findings and the scan summary to Log Analytics through this data collection rule endpoint')
    .option('--dcr-immutable-id <id>', 'the data collection rule (dcr-…) the export goes to; with --logs-ingestion-endpoint')
    .addHelpText('after', SCAN_HELP)
    .action(async (flags: ScanFlags) => {
      process.exitCode = await scanCommand(flags);
    });

  cmd
    .command('export')
    .description('send what did not arrive: export logs --scan ID re-sends a scan\'s missing Log Analytics rows')
    .command('logs')
    .description('export a stored scan to Log Analytics, sending only the rows its export ledger says did not arrive')
    .requiredOption('--scan <id>', 'the scan ID')
    .option('--output <dir>', 'the scan directory (when no Blob option is given)', './audit-output')
    .option('--blob-account-url <url>', 'the audit store in this Blob account (Entra ID auth)')
    .option('--blob-connection-string <cs>', 'the audit store in Blob with a connection string (Azurite)')
    .option('--container <name>', 'Blob container', 'audit')
    .requiredOption('--logs-ingestion-endpoint <url>', 'the data collection rule\'s Logs Ingestion endpoint')
    .requiredOption('--dcr-immutable-id <id>', 'the data collection rule (dcr-…)')
    .addOption(new Option('--cloud <name>', 'Azure cloud (the token audience)').choices(Object.keys(CLOUDS)).default('AzureCloud'))
    .action(async (flags: ExportFlags) => {
      process.exitCode = await exportLogsCommand(flags);
    });

  cmd
    .command('readiness')
    .description('enforcement readiness (NSP-07): what Enforced mode would block, from the perimeter access logs, and the access rules to add')
    .option('--account <id>', 'one account (resource ID); default every Learning-mode account in scope')
    .option('--days <n>', 'the access-log window in days (1–90; default the policy\'s readinessWindowDays, 14)', parseDays)
    .option('--subscription <id>', 'subscription to read (repeatable, or comma-separated)', collectRepeatable, [])
    .option('--management-group <id>', 'management group to read (repeatable)', collectRepeatable, [])
    .option('--arm-endpoint <url>', 'Azure Resource Manager endpoint (default from --cloud)')
    .option('--logs-endpoint <url>', 'Log Analytics query endpoint (default from --cloud)')
    .addOption(new Option('--cloud <name>', 'Azure cloud').choices(Object.keys(CLOUDS)).default('AzureCloud'))
    .option('--policy <file>', 'policy file (scope, parameters readinessWindowDays and readinessMinPrefixLength)')
    .option('--bicep', 'print each proposed rule\'s Bicep as well as its az command', false)
    .option('--json', 'print the plan as JSON', false)
    .action(async (flags: ReadinessFlags) => {
      process.exitCode = await readinessCommand(flags);
    });

  cmd
    .command('report')
    .description('render reports again from a saved scan directory (scan.json + findings.ndjson)')
    .requiredOption('--scan <dir>', 'the scan directory')
    .option('--format <list>', `report formats (${REPORT_FORMATS.join(', ')})`, parseFormats, [...REPORT_FORMATS])
    .option('--previous <dir>', 'a previous scan directory, for "new since" and "resolved since"')
    .option('--output <dir>', 'where to write the reports (default: the scan directory)')
    .addHelpText('after', REPORT_HELP)
    .action(async (flags: { scan: string; format: ReportFormat[]; previous?: string; output?: string }) => {
      if (flags.format.length === 0) throw new UsageError(`--format is empty, so no report would be written: give one or more of ${REPORT_FORMATS.join(', ')}`);
      const files = await rerenderReports({
        scanDir: resolve(flags.scan),
        formats: flags.format,
        ...(flags.previous ? { previousDir: resolve(flags.previous) } : {}),
        ...(flags.output ? { outDir: resolve(flags.output) } : {}),
      });
      process.stdout.write(`${files.join('\n')}\n`);
      process.exitCode = EXIT_OK;
    });

  const policy = cmd.command('policy').description('the policy file: scope, rules, parameters, exemptions');
  policy
    .command('validate')
    .description('check a policy file (YAML or JSON); errors name the field and its line')
    .argument('<file>', 'the policy file')
    .action(async (file: string) => {
      const p = await loadPolicyFile(file);
      process.stdout.write(`${file}: valid (${p.enabledRules.size} rules on, ${p.exemptions.length} exemption(s))\n`);
      process.exitCode = EXIT_OK;
    });
  policy
    .command('show')
    .description('print the effective policy, with every default written out (JSON)')
    .option('--policy <file>', 'the policy file (default: none, the built-in defaults)')
    .action(async (flags: { policy?: string }) => {
      const p = flags.policy ? await loadPolicyFile(flags.policy) : defaultPolicy();
      process.stdout.write(`${JSON.stringify(describePolicy(p), null, 2)}\n`);
      process.exitCode = EXIT_OK;
    });

  const alerts = cmd.command('alerts').description('alert webhooks');
  alerts
    .command('replay')
    .description('re-send dead-lettered alerts (webhooks from ALERT_WEBHOOKS and ALERT_WEBHOOK_<NAME>_URL/_SECRET)')
    .option('--output <dir>', 'the scan directory whose deadletter/ folder to replay (when no Blob option is given)')
    .option('--blob-account-url <url>', 'replay deadletter/ in this Blob account (Entra ID auth)')
    .option('--blob-connection-string <cs>', 'replay deadletter/ in Blob with a connection string (Azurite)')
    .option('--container <name>', 'Blob container', 'audit')
    .action(async (flags: { output?: string; blobAccountUrl?: string; blobConnectionString?: string; container: string }) => {
      process.exitCode = await replayCommand(flags);
    });

  cmd
    .command('rules')
    .description('list the rule catalog')
    .option('--json', 'print the catalog as JSON')
    .action((flags: { json?: boolean }) => {
      process.exitCode = rulesCommand(flags);
    });

  cmd
    .command('simulate')
    .description('serve a tenant over HTTPS on loopback, to try the CLI without Azure; runs until Ctrl-C')
    .option('--tenant <name>', 'sample (the README\'s tenant) or generated:N (N accounts)', 'sample')
    .option('--fault <fault>', `inject a fault (repeatable): ${FAULT_SYNTAX.join(', ')}`, (v: string, prev: string[]) => [...prev, v], [])
    .addHelpText('after', SIMULATE_HELP)
    .action(async (flags: { tenant: string; fault: string[] }) => {
      let tenant: TenantChoice;
      let faults: Fault[];
      try {
        tenant = parseTenantChoice(flags.tenant);
        faults = flags.fault.map(parseFault);
      } catch (error) {
        if (error instanceof SimulateUsageError) throw new UsageError(error.message);
        throw error;
      }
      const { runSimulate } = await import('./simulate.js');
      process.exitCode = await runSimulate({ tenant, faults, log: progress });
    });

  cmd
    .command('demo')
    .description('scan the sample tenant end to end: Azurite and the ARM simulator on loopback')
    .option('--output <dir>', 'directory for the output files', './audit-output')
    .action(async (flags: { output: string }) => {
      const { runDemo } = await import('./demo.js');
      process.exitCode = await runDemo({ output: resolve(flags.output), log: progress });
    });
  return cmd;
}

/** Runs the CLI with `argv`; never throws (errors become exit code 2). */
export async function run(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help); bad usage means the scan could not run.
      process.exitCode = error.exitCode === 0 ? EXIT_OK : EXIT_ERROR;
      return;
    }
    // Usage, endpoint, settings, policy, scan-setup and file errors carry messages written for the user; others too.
    progress(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = EXIT_ERROR;
  }
}
