import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadWebhooks, webhookSecretSetting, webhookUrlSetting } from '../../src/config/alerts.js';
import { PLATFORM_SETTINGS, SETTINGS_NOT_DEPLOYED, SettingsSchema } from '../../src/config/settings.js';
import { ROUTED_OPERATIONS } from '../../src/events/route.js';
import { type Column, EXPORT_TABLES, FINDINGS_TABLE } from '../../src/export/tables.js';
import { SCAN_QUEUE } from '../../src/queues.js';
import { SHARD_POISON_QUEUE, SHARD_QUEUE } from '../../src/shards.js';
import { type ArmTemplate, TEMPLATES, type Templates } from './build.js';
import type { BicepSession } from './rpc.js';
import {
  type Deployment, DeploymentError, evaluateDeployment, MANAGEMENT_GROUP_DEPLOYMENT, type Parameters, type PredictedResource,
  resourceTypeOf, runtimeProperties, scopeOf, STAND_IN_LOCATION, StandInError, standInGuid, SUBSCRIPTION_DEPLOYMENT,
} from './snapshot.js';

/**
 * The infrastructure drift check (issues: infrastructure as code; 22, the compiled templates). Reads the ARM
 * templates Microsoft's Bicep compiler made of infra/ (`npm run infra:build`), has the compiler's template
 * engine evaluate them with a few parameter sets ({@link CHECK_DEPLOYMENTS}, and each allowed value of each
 * parameter), and compares what those deployments would create with the code's own declarations:
 *
 * - settings: the Function App's app settings hold each setting of `SettingsSchema` (src/config/settings.ts)
 *   unless `SETTINGS_NOT_DEPLOYED` says why not, and nothing else but the host's own (`PLATFORM_SETTINGS`)
 *   and, per webhook, `ALERT_WEBHOOK_<NAME>_URL`/`_SECRET` as Key Vault references to the deployed vault;
 *   every value each deployment gives passes the schema, and the code's webhook loader accepts them;
 * - roles: every role assignment is one of {@link ALLOWED_ROLES}, at the scope allowed for it (a resource
 *   the deployment creates), to the Function App's identity; Reader on exactly the scanned subscriptions;
 *   Key Vault Secrets User only with Key Vault references resolved by that identity; no custom roles;
 * - storage: the queues and the audit container the code uses exist, on the account of
 *   AUDIT_STORAGE_ACCOUNT_URL, whose shared-key access is off;
 * - change events: one system topic per subscription, whose event subscription filters exactly
 *   `ROUTED_OPERATIONS` (src/events/route.ts) into the `resourceChanged` function, and none before the
 *   hook turns them on;
 * - the findings export (issue 19): the custom tables of `EXPORT_TABLES` (src/export/tables.ts) in a workspace
 *   the deployment creates, a data collection rule of kind Direct whose stream declarations and tables agree
 *   with the code column by column (names and types; order is free), whose data flows take each stream to its
 *   own table unchanged, and which LOGS_INGESTION_ENDPOINT and LOGS_DCR_IMMUTABLE_ID point at; Monitoring
 *   Metrics Publisher on that rule and nowhere else;
 * - the workbook: shared, linked to that workspace, its content the file infra/workbooks/perimeter-auditor.workbook.json
 *   (whose queries test/unit/shippedKql.test.ts checks); the Sentinel rule: only when sentinelWorkspaceId is set,
 *   scheduled, on that workspace, which must hold the findings table, its query infra/sentinel/new-high-fail.kql,
 *   an incident per alert and the account as its AzureResource entity;
 * - the rest of azd's contract: main.parameters.json, azure.yaml, the hooks, every .bicep file used.
 *
 * What the compiler checks itself (names, types, module parameters and outputs, property names of each
 * resource type) is its business: infra:build fails on any error or warning.
 *
 * Source of the roles: "Connecting to host storage with an identity" (Storage Blob Data Contributor,
 * Storage Queue Data Contributor), "Use Key Vault references as app settings" (Key Vault Secrets User),
 * the Resource Graph / Resource Manager read permissions (Reader) and the Logs Ingestion API (Monitoring
 * Metrics Publisher on the data collection rule: AZURE-FACTS.md "Logs Ingestion API").
 */

/** Files of infra/ (other than Bicep) and of the project root that the check reads, by path relative to the root. */
export type InfraSources = ReadonlyMap<string, string>;

/** A role the deployment may grant, and where. */
export interface AllowedRole {
  readonly name: string;
  /** Built-in role definition GUID. */
  readonly id: string;
  /** Scopes: `subscription`, `managementGroup`, or the resource type of the scope. */
  readonly scopes: readonly string[];
  /** Why the app needs it. */
  readonly why: string;
}

/** The roles the issue allows, least privilege, with the reason for each (docs/deploy.md repeats them). */
export const ALLOWED_ROLES: readonly AllowedRole[] = [
  {
    name: 'Reader',
    id: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    scopes: ['subscription', 'managementGroup'],
    why: 'Resource Graph queries and the Resource Manager reads of scans and change events, on each audited scope',
  },
  {
    name: 'Log Analytics Reader',
    id: '73c42c96-874c-492b-b04d-ab87d138a893',
    scopes: ['subscription', 'managementGroup'],
    why: 'NSP-07 queries the perimeters\' access logs (NSPAccessLogs) in the Log Analytics workspaces of each audited scope; read-only, without the workspaces\' shared keys',
  },
  {
    name: 'Storage Blob Data Contributor',
    id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    scopes: ['Microsoft.Storage/storageAccounts'],
    why: 'the audit store, the host\'s keys and timer leases, and the deployment package, on the app\'s own storage account',
  },
  {
    name: 'Storage Queue Data Contributor',
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    scopes: ['Microsoft.Storage/storageAccounts'],
    why: 'the scan-requests and scan-shards queues (triggers, output binding) and their poison queues, on the app\'s own storage account',
  },
  {
    name: 'Key Vault Secrets User',
    id: '4633458b-17de-408a-b874-0445c86b69e6',
    scopes: ['Microsoft.KeyVault/vaults'],
    why: 'Key Vault references resolve with the app\'s identity, which must read secret values; on its own vault only',
  },
  {
    name: 'Monitoring Metrics Publisher',
    id: '3913510d-42f4-4e42-8a64-420c390055eb',
    scopes: ['Microsoft.Insights/dataCollectionRules'],
    why: 'the findings export uploads rows with the Logs Ingestion API, which requires it on the data collection rule; on the deployment\'s own rule only',
  },
];

/** Two audited subscriptions of the `full` deployment (stand-ins). */
export const AUDITED_SUBSCRIPTIONS = ['6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f', '8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d'] as const;

/** Values of the parameters infra/main.bicep requires (azd passes them: AZURE_ENV_NAME, AZURE_LOCATION). */
export const REQUIRED_PARAMETERS: Parameters = { environmentName: 'audit-prod', location: STAND_IN_LOCATION };

/**
 * The parameter sets the check deploys infra/main.bicep with: `defaults` (what `azd up` does when nothing is
 * set), and `full` (two subscriptions, a management group, a signed and an unsigned webhook, the event
 * subscriptions on: every optional part present). `full` also names a Sentinel workspace: the auditor's own
 * (the one workspace of the `defaults` deployment, whose environment name and location are the same), as
 * docs/deploy.md says to.
 */
export const CHECK_DEPLOYMENTS = {
  defaults: REQUIRED_PARAMETERS,
  full: {
    ...REQUIRED_PARAMETERS,
    auditedSubscriptionIds: AUDITED_SUBSCRIPTIONS.join(', '),
    auditedManagementGroups: 'mg-prod',
    alertWebhooks: 'SECOPS:cloudevents,TEAMS_CHANNEL:teams:medium',
    deployEventSubscriptions: true,
  },
} as const satisfies Record<string, Parameters>;

/** The workbook's content, deployed as is but for the workspace placeholder (infra/modules/workbook.bicep). */
export const WORKBOOK_FILE = 'infra/workbooks/perimeter-auditor.workbook.json';
/** What infra/modules/workbook.bicep replaces with the workspace's resource ID in the workbook's content. */
export const WORKBOOK_WORKSPACE_PLACEHOLDER = '__AUDITOR_WORKSPACE_ID__';
/** The Sentinel rule's query (infra/modules/sentinel.bicep). */
export const SENTINEL_QUERY_FILE = 'infra/sentinel/new-high-fail.kql';

/** The principal the management-group template is deployed for (the hook passes AUDITOR_PRINCIPAL_ID). */
const HOOK_PRINCIPAL = standInGuid('the hook\'s AUDITOR_PRINCIPAL_ID');

/** The management-group template, relative to infra/ (the postprovision hook deploys it). */
const MANAGEMENT_GROUP_TEMPLATE = posix.relative('infra', TEMPLATES.managementGroup.source);

/** Reads the files the check compares with the templates (infra/ but Bicep, azure.yaml, the resourceChanged function). */
export function readInfraSources(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = posix.join(dir, entry.name);
      if (entry.isDirectory()) visit(rel);
      else if (!entry.name.endsWith('.bicep')) out.set(rel, readFileSync(join(root, rel), 'utf8'));
    }
  };
  if (existsSync(join(root, 'infra'))) visit('infra');
  for (const f of ['azure.yaml', 'functions/resourceChanged.ts']) {
    if (existsSync(join(root, f))) out.set(f, readFileSync(join(root, f), 'utf8'));
  }
  return out;
}

/** What the check reads. */
export interface InfraInput {
  /** The checkout whose infra/ was compiled (for the compiler's file references). */
  readonly root: string;
  readonly sources: InfraSources;
  /** The compiled templates (dist/infra/, or compiled in memory by the tests). */
  readonly templates: Templates;
  /** A running compiler, whose template engine evaluates the deployments. */
  readonly session: BicepSession;
}

/** The parts of azure.yaml the check reads. */
interface AzureYaml {
  infra?: { path?: string; module?: string };
  services?: Record<string, { host?: string; language?: string; project?: string; remoteBuild?: boolean }>;
  hooks?: Record<string, Record<string, { run?: string }>>;
}

const KEY_VAULT_REFERENCE = /^@Microsoft\.KeyVault\(VaultName=([^;()]+);SecretName=([^;()]+)\)$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROLE_DEFINITION = /^(?:\/subscriptions\/[^/]+)?\/providers\/Microsoft\.Authorization\/roleDefinitions\/([^/]+)$/i;
const same = (a: string | undefined, b: string | undefined): boolean => a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
const ofType = (deployment: Deployment, type: string): PredictedResource[] => deployment.resources.filter((r) => same(r.type, type));
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arrayOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** A value at a property path of a resource, e.g. `at(site, 'properties', 'functionAppConfig', 'runtime')`. */
function at(value: unknown, ...path: string[]): unknown {
  let v = value;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}
const describe = (parameters: Parameters): string => {
  const set = Object.entries(parameters).filter(([k]) => !(k in REQUIRED_PARAMETERS));
  return set.length === 0 ? 'the defaults' : set.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
};

class Checker {
  readonly problems: string[] = [];

  constructor(private readonly input: InfraInput) {}

  problem(message: string): void {
    if (!this.problems.includes(message)) this.problems.push(message);
  }

  async run(): Promise<string[]> {
    const main = this.input.templates.main;
    if (!main.$schema.includes('/subscriptionDeploymentTemplate.json')) this.problem('infra/main.bicep: targetScope must be subscription (azd provisions the resource group itself)');
    this.checkParametersFile(main);
    this.checkSettingsAfterVault(main);
    const azureYaml = this.checkAzureYaml();
    await this.checkFilesUsed();
    const deployments = await this.deployments(main);
    const full = deployments.get('full');
    const defaults = deployments.get('defaults');
    for (const d of deployments.values()) this.checkSettingValues(d);
    if (full) {
      const settings = this.checkSettings(full);
      if (settings) {
        const granted = this.checkRoles(full, settings, TEMPLATES.main.source);
        this.checkStorage(full, settings);
        this.checkEvents(full, true);
        this.checkFunctionApp(full, azureYaml);
        const workspace = this.checkExport(full, settings, granted);
        this.checkWorkbook(full, workspace);
        this.checkSentinel(full, workspace);
      }
    }
    if (defaults) {
      const settings = this.appSettings(defaults);
      if (settings) {
        const granted = this.checkRoles(defaults, settings, TEMPLATES.main.source);
        this.checkExport(defaults, settings, granted);
      }
      this.checkEvents(defaults, false);
      this.checkSentinel(defaults, undefined);
    }
    await this.checkManagementGroupTemplate();
    return this.problems;
  }

  // ---- deployments --------------------------------------------------------------------------------

  private async evaluate(template: ArmTemplate, parameters: Parameters, scope = SUBSCRIPTION_DEPLOYMENT): Promise<Deployment | undefined> {
    try {
      return await evaluateDeployment(this.input.session, template, parameters, scope);
    } catch (err) {
      if (!(err instanceof DeploymentError) && !(err instanceof StandInError)) throw err;
      this.problem(`${template === this.input.templates.main ? TEMPLATES.main.source : TEMPLATES.managementGroup.source}: ${err.message}`);
      return undefined;
    }
  }

  /** {@link CHECK_DEPLOYMENTS}, and `allowed-<i>`: the i-th allowed value (other than the default) of every parameter that lists them. */
  private async deployments(main: ArmTemplate): Promise<Map<string, Deployment>> {
    const out = new Map<string, Deployment>();
    const params = Object.entries(main.parameters ?? {});
    const missing = params.filter(([name, p]) => p.defaultValue === undefined && !(name in REQUIRED_PARAMETERS)).map(([name]) => name);
    if (missing.length > 0) {
      this.problem(`infra/main.bicep requires ${missing.join(', ')}: give the drift check a value (REQUIRED_PARAMETERS in scripts/infra/check.ts) and azd one (infra/main.parameters.json)`);
      return out;
    }
    const sets: Array<[string, Parameters]> = [];
    type Declared = { allowedValues?: readonly unknown[]; defaultValue?: unknown };
    const others = (p: Declared): unknown[] => (p.allowedValues ?? []).filter((v) => JSON.stringify(v) !== JSON.stringify(p.defaultValue));
    const alternatives = params.map(([name, p]) => [name, others(p)] as const);
    const variants = Math.max(0, ...alternatives.map(([, values]) => values.length));
    for (let i = 0; i < variants; i++) {
      const set: Record<string, string | number | boolean> = { ...REQUIRED_PARAMETERS };
      for (const [name, values] of alternatives) {
        const v = values[i];
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') set[name] = v;
      }
      sets.push([`allowed-${i}`, set]);
    }
    const defaults = await this.evaluate(main, CHECK_DEPLOYMENTS.defaults);
    if (defaults) out.set('defaults', defaults);
    // The Sentinel rule of `full` goes to the auditor's own workspace, as docs/deploy.md says.
    const workspaces = defaults ? ofType(defaults, 'Microsoft.OperationalInsights/workspaces') : [];
    if (defaults && workspaces.length !== 1) this.problem(`infra/modules/monitoring.bicep: expected one Log Analytics workspace, found ${workspaces.length}`);
    const sentinel: Parameters = workspaces.length === 1 ? { sentinelWorkspaceId: workspaces[0]!.id } : {};
    sets.unshift(['full', { ...CHECK_DEPLOYMENTS.full, ...sentinel }]);
    for (const [name, set] of sets) {
      const d = await this.evaluate(main, set);
      if (d) out.set(name, d);
    }
    return out;
  }

  // ---- azd's contract -----------------------------------------------------------------------------

  /** main.parameters.json names only parameters of the compiled template, and gives every required one. */
  private checkParametersFile(main: ArmTemplate): void {
    const content = this.input.sources.get('infra/main.parameters.json');
    if (content === undefined) {
      this.problem('infra/main.parameters.json does not exist');
      return;
    }
    let parsed: { parameters?: Record<string, { value?: unknown }> };
    try {
      parsed = JSON.parse(content) as typeof parsed;
    } catch {
      this.problem('infra/main.parameters.json is not JSON');
      return;
    }
    const given = parsed.parameters ?? {};
    const declared = main.parameters ?? {};
    for (const name of Object.keys(given)) if (!(name in declared)) this.problem(`infra/main.parameters.json sets ${name}, which infra/main.bicep does not declare`);
    for (const [name, p] of Object.entries(declared)) {
      if (p.defaultValue === undefined && !(name in given)) this.problem(`infra/main.parameters.json does not set ${name}, which infra/main.bicep requires`);
    }
  }

  /** azure.yaml: infra/main.bicep, the Function App service built here (no remote build), hooks that exist. */
  private checkAzureYaml(): AzureYaml | undefined {
    const content = this.input.sources.get('azure.yaml');
    if (content === undefined) {
      this.problem('azure.yaml does not exist');
      return undefined;
    }
    const doc = parseYaml(content) as AzureYaml;
    if ((doc.infra?.path ?? 'infra') !== 'infra' || (doc.infra?.module ?? 'main') !== 'main') this.problem('azure.yaml: infra must be infra/main.bicep (path: infra, module: main)');
    const fn = Object.entries(doc.services ?? {}).filter(([, s]) => s.host === 'function');
    if (fn.length !== 1) this.problem('azure.yaml: expected exactly one service with host: function');
    for (const [name, s] of fn) {
      if (s.remoteBuild !== false) this.problem(`azure.yaml: service ${name} must set remoteBuild: false (the package is the prebuilt bundle; .funcignore leaves out the sources)`);
    }
    for (const [hook, variants] of Object.entries(doc.hooks ?? {})) {
      for (const [variant, spec] of Object.entries(variants)) {
        if (!spec.run || !this.input.sources.has(spec.run)) this.problem(`azure.yaml: hook ${hook} (${variant}) runs ${spec.run ?? '(nothing)'}, which does not exist`);
      }
    }
    return doc;
  }

  /** Every .bicep file of infra/ is compiled into main.bicep (the compiler's file references) or deployed by a hook. */
  private async checkFilesUsed(): Promise<void> {
    const { root, session, sources } = this.input;
    const referenced = new Set((await session.fileReferences(join(root, TEMPLATES.main.source))).map((f) => posix.relative(root, f.split('\\').join('/'))));
    const hooks = [...sources.entries()].filter(([p]) => p.startsWith('infra/hooks/')).map(([, t]) => t);
    const bicepFiles: string[] = [];
    const visit = (dir: string): void => {
      for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
        const rel = posix.join(dir, entry.name);
        if (entry.isDirectory()) visit(rel);
        else if (entry.name.endsWith('.bicep')) bicepFiles.push(rel);
      }
    };
    visit('infra');
    for (const f of bicepFiles) {
      if (!referenced.has(f) && !hooks.some((h) => h.includes(basename(f)))) this.problem(`${f} is used by neither infra/main.bicep nor a hook`);
    }
    if (!hooks.some((h) => h.includes(basename(MANAGEMENT_GROUP_TEMPLATE)))) this.problem(`${TEMPLATES.managementGroup.source}: no hook deploys it (Reader on management groups)`);
  }

  /**
   * The app settings' deployment depends on the Key Vault's (the compiled `dependsOn`): the references
   * resolve with the identity's role on the vault, which must exist when the settings are applied. Module
   * outputs make other dependencies implicit; this one is not (the vault's name is a variable).
   */
  private checkSettingsAfterVault(main: ArmTemplate): void {
    type Nested = { type?: string; name?: string; dependsOn?: string[]; properties?: { template?: { resources?: unknown } } };
    // languageVersion 1.0 lists resources in an array, 2.0 in an object by symbolic name.
    const list = (r: unknown): Array<[string, Nested]> =>
      (Array.isArray(r) ? r.map((x, i) => [String(i), x as Nested]) : Object.entries((r ?? {}) as Record<string, Nested>));
    const deployments = list(main.resources).filter(([, r]) => r.type === 'Microsoft.Resources/deployments');
    const creates = (d: Nested, type: string): boolean => list(d.properties?.template?.resources).some(([, r]) => r.type === type);
    const vaults = deployments.filter(([, d]) => creates(d, 'Microsoft.KeyVault/vaults'));
    for (const [, settings] of deployments.filter(([, d]) => creates(d, 'Microsoft.Web/sites/config'))) {
      for (const [symbol, vault] of vaults) {
        // 1.0 names the deployment in a resource ID expression, 2.0 by its symbolic name.
        const named = (dep: string): boolean => dep === symbol || (vault.name !== undefined && dep.includes(`'Microsoft.Resources/deployments', '${vault.name.replace(/'/g, '\'\'')}')`));
        if (!(settings.dependsOn ?? []).some(named)) {
          this.problem(`infra/main.bicep: the app settings (module ${settings.name}) must dependsOn the Key Vault module (${vault.name}): its references resolve with the role granted there`);
        }
      }
    }
  }

  // ---- settings -----------------------------------------------------------------------------------

  private site(d: Deployment): PredictedResource | undefined {
    const sites = ofType(d, 'Microsoft.Web/sites');
    if (sites.length !== 1) this.problem(`infra/main.bicep: expected one Function App (Microsoft.Web/sites), found ${sites.length}`);
    return sites[0];
  }

  /** The user-assigned identity of the Function App: its resource ID, when the deployment creates it. */
  private appIdentity(d: Deployment): string | undefined {
    const site = this.site(d);
    const ids = Object.keys(site?.identity?.userAssignedIdentities ?? {});
    if (site?.identity?.type !== 'UserAssigned' || ids.length !== 1) {
      this.problem('infra/modules/functionapp.bicep: the app must use one user-assigned identity');
      return undefined;
    }
    if (!ofType(d, 'Microsoft.ManagedIdentity/userAssignedIdentities').some((r) => same(r.id, ids[0]))) {
      this.problem('infra/modules/functionapp.bicep: the app\'s identity is not one the deployment creates');
      return undefined;
    }
    return ids[0];
  }

  /** The Function App's app settings (the one `appsettings` config resource), values resolved. */
  private appSettings(d: Deployment): Map<string, string> | undefined {
    const site = this.site(d);
    const configs = ofType(d, 'Microsoft.Web/sites/config').filter((r) => r.name.endsWith('/appsettings'));
    if (!site || configs.length !== 1 || !configs[0]!.id.toLowerCase().startsWith(`${site.id.toLowerCase()}/config/`)) {
      this.problem(`infra/main.bicep: expected one appsettings resource of the Function App, found ${configs.length}`);
      return undefined;
    }
    const out = new Map<string, string>();
    for (const [k, v] of Object.entries(configs[0]!.properties ?? {})) {
      if (typeof v === 'string') out.set(k, v);
      else this.problem(`setting ${k}: not a string (${JSON.stringify(v)})`);
    }
    return out;
  }

  /** Every value each deployment sets for a setting of the schema passes it (an empty string counts as unset). */
  private checkSettingValues(d: Deployment): void {
    const settings = this.appSettings(d);
    const schema = SettingsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
    for (const [key, value] of settings ?? []) {
      const field = schema[key];
      if (field && !field.safeParse(value === '' ? undefined : value).success) {
        this.problem(`setting ${key}: infra/main.bicep sets ${JSON.stringify(value)} (with ${describe(d.parameters)}), which src/config/settings.ts rejects`);
      }
    }
  }

  /** The settings of the `full` deployment against the code's, both ways. */
  private checkSettings(full: Deployment): Map<string, string> | undefined {
    const settings = this.appSettings(full);
    if (!settings) return undefined;
    const schema = SettingsSchema.shape as Record<string, unknown>;
    const notDeployed = SETTINGS_NOT_DEPLOYED as Record<string, string | undefined>;
    for (const key of Object.keys(schema)) {
      if (notDeployed[key]) {
        if (settings.has(key)) this.problem(`setting ${key}: infra/main.bicep sets it, but the code says it is not deployed (${notDeployed[key]})`);
      } else if (!settings.has(key)) {
        this.problem(`setting ${key}: read by the code (src/config/settings.ts) but not set by infra/main.bicep`);
      }
    }
    for (const key of PLATFORM_SETTINGS) if (!settings.has(key)) this.problem(`setting ${key}: needed by the Functions host but not set by infra/main.bicep`);
    // Per-webhook settings: those of the webhooks ALERT_WEBHOOKS lists.
    let webhooks: Array<{ name?: unknown }> = [];
    try {
      webhooks = JSON.parse(settings.get('ALERT_WEBHOOKS') ?? '[]') as typeof webhooks;
    } catch {
      this.problem('setting ALERT_WEBHOOKS: not JSON');
    }
    const names = webhooks.map((w) => String(w.name));
    if (names.length !== 2) this.problem(`setting ALERT_WEBHOOKS: the deployment with ${describe(full.parameters)} lists ${names.length} webhooks, not 2`);
    const dynamic = new Set(names.flatMap((n) => [webhookUrlSetting(n), webhookSecretSetting(n)]));
    for (const [key, value] of settings) {
      if (dynamic.has(key)) this.checkKeyVaultReference(full, key, value);
      else if (!(key in schema) && !PLATFORM_SETTINGS.includes(key)) this.problem(`setting ${key}: set by infra/main.bicep but not read by the code (not in SettingsSchema or PLATFORM_SETTINGS)`);
    }
    // The code's own webhook loader, on the settings with each Key Vault reference resolved to a stand-in secret.
    try {
      loadWebhooks(Object.fromEntries([...settings].map(([k, v]) => [k, KEY_VAULT_REFERENCE.test(v) ? standInSecret(k, names) : v])));
    } catch (err) {
      this.problem(`settings: src/config/alerts.ts refuses the webhook settings infra/main.bicep deploys (with ${describe(full.parameters)}): ${(err as Error).message}`);
    }
    if (settings.get('AzureWebJobsStorage__credential') !== 'managedidentity') this.problem('setting AzureWebJobsStorage__credential must be managedidentity');
    const identity = this.appIdentity(full);
    const clientId = identity ? text(runtimeProperties(identity).clientId) : undefined;
    if (!same(settings.get('AZURE_CLIENT_ID'), clientId) || !same(settings.get('AzureWebJobsStorage__clientId'), clientId)) {
      this.problem('settings AzureWebJobsStorage__clientId and AZURE_CLIENT_ID must both be the client ID of the app\'s identity');
    }
    return settings;
  }

  /** A webhook URL or secret is a Key Vault reference to a vault the deployment creates, never a value. */
  private checkKeyVaultReference(d: Deployment, key: string, value: string): void {
    const m = KEY_VAULT_REFERENCE.exec(value);
    const vaults = ofType(d, 'Microsoft.KeyVault/vaults').map((v) => v.name);
    if (!m || !vaults.includes(m[1]!)) {
      this.problem(`setting ${key}: must be a Key Vault reference to the deployed vault (@Microsoft.KeyVault(VaultName=…;SecretName=…)), not a value`);
    } else if (!/^[0-9a-zA-Z-]{1,127}$/.test(m[2]!)) {
      this.problem(`setting ${key}: ${m[2]} is not a valid Key Vault secret name`);
    }
  }

  // ---- roles --------------------------------------------------------------------------------------

  /**
   * The role assignments of a deployment: allowed role, allowed scope (created by the deployment), the
   * expected principal. @returns the names of the roles granted, by scope ID.
   */
  private roleAssignments(d: Deployment, source: string, principal: string | undefined): Array<{ role: AllowedRole; scope: string }> {
    const granted: Array<{ role: AllowedRole; scope: string }> = [];
    for (const r of ofType(d, 'Microsoft.Authorization/roleDefinitions')) this.problem(`${source}: defines a custom role ${r.name} (only the built-in roles of the allowed list may be granted)`);
    for (const r of ofType(d, 'Microsoft.Authorization/roleAssignments')) {
      const scope = scopeOf(r.id, 'Microsoft.Authorization/roleAssignments');
      const definition = text(at(r, 'properties', 'roleDefinitionId')) ?? '';
      const guid = ROLE_DEFINITION.exec(definition)?.[1] ?? '';
      const where = `${source}: role assignment at ${scope}`;
      if (!GUID.test(guid)) {
        this.problem(`${where}: its role ${definition} is not a built-in role definition ID`);
        continue;
      }
      const role = ALLOWED_ROLES.find((x) => same(x.id, guid));
      if (!role) {
        this.problem(`${where}: grants role ${guid.toLowerCase()}, which is not in the allowed list (${ALLOWED_ROLES.map((x) => x.name).join(', ')})`);
        continue;
      }
      const type = resourceTypeOf(scope);
      let kind = same(type, 'Microsoft.Resources/subscriptions') ? 'subscription' : same(type, 'Microsoft.Management/managementGroups') ? 'managementGroup' : type;
      if (same(type, 'Microsoft.Resources/resourceGroups')) kind = 'resourceGroup';
      else if (kind === type && !d.resources.some((x) => same(x.id, scope))) kind = `an existing ${type} (not one this deployment creates)`;
      if (!role.scopes.includes(kind)) this.problem(`${where}: grants ${role.name} at ${kind}; allowed only at ${role.scopes.join(' or ')}`);
      if (!principal || !same(text(at(r, 'properties', 'principalId')), principal)) this.problem(`${where}: grants ${role.name} to a principal other than the app's identity`);
      if (at(r, 'properties', 'principalType') !== 'ServicePrincipal') this.problem(`${where}: principalType must be ServicePrincipal`);
      granted.push({ role, scope });
    }
    return granted;
  }

  private checkRoles(d: Deployment, settings: ReadonlyMap<string, string>, source: string): Array<{ role: AllowedRole; scope: string }> {
    const identity = this.appIdentity(d);
    const principal = identity ? text(runtimeProperties(identity).principalId) : undefined;
    const granted = this.roleAssignments(d, source, principal);
    if (!principal || !same(text(d.outputs.AUDITOR_PRINCIPAL_ID), principal)) {
      this.problem(`${source}: output AUDITOR_PRINCIPAL_ID (used by infra/hooks/postprovision) must be the principal ID of the app's identity`);
    }
    // Reader, and Log Analytics Reader (NSP-07), on exactly the subscriptions that are scanned.
    const scanned = (settings.get('SCAN_SUBSCRIPTIONS') ?? '').split(',').filter(Boolean).map((s) => s.toLowerCase()).sort();
    for (const name of ['Reader', 'Log Analytics Reader']) {
      const on = granted.filter((g) => g.role.name === name).map((g) => g.scope.replace(/^\/subscriptions\//i, '').toLowerCase()).sort();
      if (JSON.stringify(on) !== JSON.stringify(scanned)) {
        this.problem(`${source}: ${name} is granted on subscriptions [${on.join(', ')}] but SCAN_SUBSCRIPTIONS is [${scanned.join(', ')}] (with ${describe(d.parameters)})`);
      }
    }
    // Key Vault Secrets User is justified only by Key Vault references, to that vault, resolved with the app's
    // identity: looked at where webhooks are configured (without them there is no reference to resolve).
    if (!d.parameters.alertWebhooks) return granted;
    for (const g of granted.filter((x) => x.role.name === 'Key Vault Secrets User')) {
      const vault = g.scope.split('/').at(-1);
      const references = [...settings.values()].some((v) => KEY_VAULT_REFERENCE.exec(v)?.[1] === vault);
      const resolvedBy = text(at(this.site(d), 'properties', 'keyVaultReferenceIdentity'));
      if (!references || !identity || !same(resolvedBy, identity)) {
        this.problem('Key Vault Secrets User is granted, but no app setting is a Key Vault reference to its vault resolved with the app\'s identity (keyVaultReferenceIdentity)');
      }
    }
    return granted;
  }

  /** The management-group template: Reader at the management group, for the principal the hook passes. */
  private async checkManagementGroupTemplate(): Promise<void> {
    const template = this.input.templates.managementGroup;
    if (!template.$schema.includes('/managementGroupDeploymentTemplate.json')) this.problem(`${TEMPLATES.managementGroup.source}: targetScope must be managementGroup`);
    const d = await this.evaluate(template, { principalId: HOOK_PRINCIPAL }, MANAGEMENT_GROUP_DEPLOYMENT);
    if (!d) return;
    const granted = this.roleAssignments(d, TEMPLATES.managementGroup.source, HOOK_PRINCIPAL);
    const names = granted.map((g) => g.role.name).sort();
    if (JSON.stringify(names) !== JSON.stringify(['Log Analytics Reader', 'Reader'])) {
      this.problem(`${TEMPLATES.managementGroup.source}: must grant Reader and Log Analytics Reader on the management group, once each`);
    }
  }

  // ---- the findings export, the workbook, the Sentinel rule --------------------------------------

  /**
   * The custom tables, the data collection rule and its role, against EXPORT_TABLES and the settings.
   * @returns the ID of the workspace that holds the tables (undefined when they are not in one workspace the deployment creates)
   */
  private checkExport(d: Deployment, settings: ReadonlyMap<string, string>, granted: ReadonlyArray<{ role: AllowedRole; scope: string }>): string | undefined {
    const source = 'infra/modules/logexport.bicep';
    // Tables: each of the code's, once, with its columns, plan Analytics, in a workspace the deployment creates.
    const workspaceOf = new Map<string, string>();
    for (const t of ofType(d, 'Microsoft.OperationalInsights/workspaces/tables')) {
      const name = t.id.split('/').at(-1)!;
      const workspace = t.id.slice(0, t.id.toLowerCase().lastIndexOf('/tables/'));
      const table = EXPORT_TABLES.find((x) => x.table === name);
      if (!table) {
        this.problem(`${source}: table ${name} is created but is not one of the code's (EXPORT_TABLES, src/export/tables.ts)`);
        continue;
      }
      if (workspaceOf.has(name)) this.problem(`${source}: table ${name} is created more than once`);
      workspaceOf.set(name, workspace);
      if (!ofType(d, 'Microsoft.OperationalInsights/workspaces').some((w) => same(w.id, workspace))) this.problem(`${source}: table ${name} is in a workspace the deployment does not create`);
      if (at(t, 'properties', 'plan') !== 'Analytics') this.problem(`${source}: table ${name} must be on the Analytics plan`);
      if (at(t, 'properties', 'schema', 'name') !== name) this.problem(`${source}: table ${name}: schema.name must be ${name}`);
      this.checkColumns(`${source}: table ${name}`, at(t, 'properties', 'schema', 'columns'), table.columns);
    }
    for (const t of EXPORT_TABLES) if (!workspaceOf.has(t.table)) this.problem(`${source}: table ${t.table} (src/export/tables.ts) is not created`);
    const workspaces = [...new Set([...workspaceOf.values()].map((w) => w.toLowerCase()))];
    const workspace = workspaces.length === 1 ? [...workspaceOf.values()][0] : undefined;
    if (workspaces.length > 1) this.problem(`${source}: the export tables are in ${workspaces.length} workspaces, not one`);

    // The data collection rule: Direct, a stream per table with the table's columns, each flowing to its table.
    const rules = ofType(d, 'Microsoft.Insights/dataCollectionRules');
    if (rules.length !== 1) {
      this.problem(`${source}: expected one data collection rule, found ${rules.length}`);
      return workspace;
    }
    const dcr = rules[0]!;
    const where = `${source}: data collection rule ${dcr.name}`;
    if (dcr.kind !== 'Direct') this.problem(`${where}: kind must be Direct (its own logs ingestion endpoint, AZURE-FACTS.md), not ${String(dcr.kind)}`);
    const declarations = (at(dcr, 'properties', 'streamDeclarations') ?? {}) as Record<string, unknown>;
    for (const t of EXPORT_TABLES) {
      if (!(t.stream in declarations)) this.problem(`${where}: stream ${t.stream} (src/export/tables.ts) is not declared`);
      else this.checkColumns(`${where}: stream ${t.stream}`, at(declarations[t.stream], 'columns'), t.columns);
    }
    for (const stream of Object.keys(declarations)) if (!EXPORT_TABLES.some((t) => t.stream === stream)) this.problem(`${where}: stream ${stream} is declared but the code uploads no such stream`);
    const destinations = at(dcr, 'properties', 'destinations', 'logAnalytics');
    const destinationWorkspace = new Map(arrayOf(destinations).map((x) => [String(at(x, 'name')), text(at(x, 'workspaceResourceId')) ?? '']));
    const dataFlows = arrayOf(at(dcr, 'properties', 'dataFlows'));
    for (const flow of dataFlows) {
      for (const stream of arrayOf(at(flow, 'streams')).map(String)) {
        if (!EXPORT_TABLES.some((t) => t.stream === stream)) this.problem(`${where}: a data flow takes stream ${stream}, which the code does not upload`);
      }
    }
    for (const t of EXPORT_TABLES) {
      const mine = dataFlows.filter((f) => arrayOf(at(f, 'streams')).includes(t.stream));
      if (mine.length !== 1) {
        this.problem(`${where}: expected one data flow of stream ${t.stream}, found ${mine.length}`);
        continue;
      }
      const flow = mine[0];
      const output = text(at(flow, 'outputStream'));
      if (arrayOf(at(flow, 'streams')).length !== 1) this.problem(`${where}: the data flow of ${t.stream} must take that stream alone`);
      if (output !== `Custom-${t.table}`) this.problem(`${where}: the data flow of stream ${t.stream} goes to ${String(output)}, not to its table Custom-${t.table}`);
      if (at(flow, 'transformKql') !== 'source') this.problem(`${where}: the data flow of stream ${t.stream} must keep rows as sent (transformKql: 'source')`);
      const targets = arrayOf(at(flow, 'destinations')).map((n) => destinationWorkspace.get(String(n)));
      if (targets.length === 0 || targets.some((w) => !same(w, workspaceOf.get(t.table)))) {
        this.problem(`${where}: the data flow of stream ${t.stream} must go to the Log Analytics destination of the workspace that holds ${t.table}`);
      }
    }
    // The settings name this rule; its role is there and nowhere else.
    const runtime = runtimeProperties(dcr.id);
    if (settings.get('LOGS_INGESTION_ENDPOINT') !== at(runtime, 'endpoints', 'logsIngestion')) {
      this.problem(`setting LOGS_INGESTION_ENDPOINT: must be the logs ingestion endpoint of the data collection rule ${dcr.name} (properties.endpoints.logsIngestion)`);
    }
    if (settings.get('LOGS_DCR_IMMUTABLE_ID') !== at(runtime, 'immutableId')) this.problem(`setting LOGS_DCR_IMMUTABLE_ID: must be the immutable ID of the data collection rule ${dcr.name}`);
    const publisher = granted.filter((g) => g.role.name === 'Monitoring Metrics Publisher');
    if (publisher.length !== 1 || !same(publisher[0]!.scope, dcr.id)) {
      this.problem(`${source}: Monitoring Metrics Publisher must be granted once, on the data collection rule ${dcr.name} (granted on [${publisher.map((g) => g.scope).join(', ')}])`);
    }
    return workspace;
  }

  /** Columns as deployed against the code's: the same names with the same types; order is free. */
  private checkColumns(where: string, deployed: unknown, code: readonly Column[]): void {
    const types = new Map<string, string>();
    for (const c of arrayOf(deployed)) {
      const name = String(at(c, 'name'));
      if (types.has(name)) this.problem(`${where}: column ${name} is declared twice`);
      types.set(name, String(at(c, 'type')));
    }
    for (const c of code) {
      const type = types.get(c.name);
      if (type === undefined) this.problem(`${where}: column ${c.name} (${c.type}) of the code (src/export/tables.ts) is missing`);
      else if (type.toLowerCase() !== c.type) this.problem(`${where}: column ${c.name} is ${type}, the code (src/export/tables.ts) says ${c.type}`);
    }
    for (const name of types.keys()) if (!code.some((c) => c.name === name)) this.problem(`${where}: column ${name} is not a column of the code's table (src/export/tables.ts)`);
  }

  /** The workbook: one, shared, linked to the export's workspace, its content the committed file. */
  private checkWorkbook(d: Deployment, workspace: string | undefined): void {
    const source = 'infra/modules/workbook.bicep';
    const workbooks = ofType(d, 'Microsoft.Insights/workbooks');
    if (workbooks.length !== 1) {
      this.problem(`${source}: expected one workbook, found ${workbooks.length}`);
      return;
    }
    const wb = workbooks[0]!;
    if (wb.kind !== 'shared') this.problem(`${source}: the workbook must be of kind shared`);
    const sourceId = text(at(wb, 'properties', 'sourceId'));
    if (!workspace || !same(sourceId, workspace)) this.problem(`${source}: the workbook's sourceId must be the workspace that holds the export tables (${workspace ?? 'none'}), not ${String(sourceId)}`);
    const file = this.input.sources.get(WORKBOOK_FILE);
    const content = text(at(wb, 'properties', 'serializedData'));
    if (file === undefined) {
      this.problem(`${WORKBOOK_FILE} does not exist`);
      return;
    }
    if (content !== file.split(WORKBOOK_WORKSPACE_PLACEHOLDER).join(sourceId ?? '')) {
      this.problem(`${source}: the workbook's serializedData must be ${WORKBOOK_FILE} (with ${WORKBOOK_WORKSPACE_PLACEHOLDER} the workspace), the file whose queries test/unit/shippedKql.test.ts checks`);
      return;
    }
    try {
      const doc = JSON.parse(content) as { version?: unknown; fallbackResourceIds?: unknown };
      if (doc.version !== 'Notebook/1.0') this.problem(`${WORKBOOK_FILE}: version must be Notebook/1.0`);
      const fallback = arrayOf(doc.fallbackResourceIds);
      if (fallback.length !== 1 || !same(text(fallback[0]), workspace)) this.problem(`${WORKBOOK_FILE}: fallbackResourceIds must be ["${WORKBOOK_WORKSPACE_PLACEHOLDER}"] (the workspace, once deployed)`);
    } catch {
      this.problem(`${WORKBOOK_FILE} is not JSON`);
    }
  }

  /**
   * The Sentinel rule: none unless sentinelWorkspaceId is set; then one scheduled rule on that workspace,
   * which holds the findings table it queries (`workspace`), with the committed query, an incident per
   * alert and the account as its AzureResource entity.
   */
  private checkSentinel(d: Deployment, workspace: string | undefined): void {
    const source = 'infra/modules/sentinel.bicep';
    const rules = ofType(d, 'Microsoft.SecurityInsights/alertRules');
    const named = d.parameters.sentinelWorkspaceId;
    if (typeof named !== 'string' || named === '') {
      if (rules.length > 0) this.problem(`${source}: a Sentinel rule is deployed while sentinelWorkspaceId is empty (with ${describe(d.parameters)})`);
      return;
    }
    if (rules.length !== 1) {
      this.problem(`${source}: expected one Sentinel rule with sentinelWorkspaceId set, found ${rules.length}`);
      return;
    }
    const rule = rules[0]!;
    const on = scopeOf(rule.id, 'Microsoft.SecurityInsights/alertRules');
    if (!same(on, named)) this.problem(`${source}: the Sentinel rule is on ${on || rule.id}, not on the workspace sentinelWorkspaceId names (${named})`);
    if (!workspace || !same(on, workspace)) this.problem(`${source}: the Sentinel rule's workspace does not hold ${FINDINGS_TABLE.table} (the export's tables are in ${workspace ?? 'no one workspace'}): its query would find no table`);
    if (rule.kind !== 'Scheduled') this.problem(`${source}: the Sentinel rule must be of kind Scheduled`);
    if (at(rule, 'properties', 'enabled') !== true || at(rule, 'properties', 'severity') !== 'High') this.problem(`${source}: the Sentinel rule must be enabled, severity High`);
    if (at(rule, 'properties', 'query') !== this.input.sources.get(SENTINEL_QUERY_FILE)) {
      this.problem(`${source}: the Sentinel rule's query must be ${SENTINEL_QUERY_FILE}, the file test/unit/shippedKql.test.ts checks`);
    }
    if (at(rule, 'properties', 'incidentConfiguration', 'createIncident') !== true) this.problem(`${source}: the Sentinel rule must create an incident`);
    const resource = arrayOf(at(rule, 'properties', 'entityMappings')).filter((m) => at(m, 'entityType') === 'AzureResource');
    const fields = resource.flatMap((m) => arrayOf(at(m, 'fieldMappings')));
    const column = fields.find((f) => at(f, 'identifier') === 'ResourceId');
    if (resource.length !== 1 || at(column, 'columnName') !== 'ResourceId' || !FINDINGS_TABLE.columns.some((c) => c.name === 'ResourceId')) {
      this.problem(`${source}: the Sentinel rule must map the account as its AzureResource entity (ResourceId → the ResourceId column)`);
    }
  }

  // ---- storage, events, app -----------------------------------------------------------------------

  private checkStorage(d: Deployment, settings: ReadonlyMap<string, string>): void {
    const account = ofType(d, 'Microsoft.Storage/storageAccounts').find((a) => same(text(at(runtimeProperties(a.id), 'primaryEndpoints', 'blob')), settings.get('AUDIT_STORAGE_ACCOUNT_URL')));
    if (!account) {
      this.problem('setting AUDIT_STORAGE_ACCOUNT_URL: not the blob endpoint of a storage account the deployment creates');
      return;
    }
    if (at(account, 'properties', 'allowSharedKeyAccess') !== false) this.problem('infra/modules/storage.bicep: the storage account must set allowSharedKeyAccess: false');
    const children = (type: string): string[] => ofType(d, type).filter((r) => r.id.toLowerCase().startsWith(`${account.id.toLowerCase()}/`)).map((r) => r.name.split('/').at(-1)!);
    const queues = children('Microsoft.Storage/storageAccounts/queueServices/queues');
    const needed = [SCAN_QUEUE, `${SCAN_QUEUE}-poison`, SHARD_QUEUE, SHARD_POISON_QUEUE];
    for (const q of needed) if (!queues.includes(q)) this.problem(`queue ${q}: used by the code but not created by infra/ (on the audit storage account)`);
    for (const q of queues) if (!needed.includes(q)) this.problem(`queue ${q}: created by infra/ but not used by the code`);
    const container = settings.get('AUDIT_CONTAINER') ?? '';
    if (!children('Microsoft.Storage/storageAccounts/blobServices/containers').includes(container)) {
      this.problem(`setting AUDIT_CONTAINER: ${JSON.stringify(container)} is not a container the deployment creates on the audit storage account`);
    }
  }

  /** System topics and their event subscriptions (`on`: deployEventSubscriptions is true in `d`). */
  private checkEvents(d: Deployment, on: boolean): void {
    const source = 'infra/modules/changeevents.bicep';
    const topics = ofType(d, 'Microsoft.EventGrid/systemTopics');
    const subscriptions = ofType(d, 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
    if (!on) {
      if (subscriptions.length > 0) this.problem(`${source}: event subscriptions are deployed while deployEventSubscriptions is false (Event Grid needs the function to exist first: infra/hooks/postdeploy)`);
      return;
    }
    const expected = [...AUDITED_SUBSCRIPTIONS].sort();
    const sources = topics.map((t) => text(at(t, 'properties', 'source'))?.replace(/^\/subscriptions\//i, '') ?? '').sort();
    if (JSON.stringify(sources) !== JSON.stringify(expected)) this.problem(`${source}: system topics for [${sources.join(', ')}], expected one for each audited subscription [${expected.join(', ')}]`);
    const site = this.site(d);
    const functionSource = this.input.sources.get('functions/resourceChanged.ts') ?? '';
    for (const topic of topics) {
      if (at(topic, 'properties', 'topicType') !== 'Microsoft.Resources.Subscriptions') this.problem(`${source}: the system topic must be of type Microsoft.Resources.Subscriptions`);
      const subs = subscriptions.filter((s) => s.id.toLowerCase().startsWith(`${topic.id.toLowerCase()}/eventsubscriptions/`));
      if (subs.length !== 1) this.problem(`${source}: expected one event subscription on each topic, found ${subs.length}`);
      for (const sub of subs) {
        const destination = at(sub, 'properties', 'destination');
        const endpoint = text(at(destination, 'properties', 'resourceId'));
        if (at(destination, 'endpointType') !== 'AzureFunction' || !site || !same(endpoint, `${site.id}/functions/resourceChanged`) || !functionSource.includes('app.eventGrid(\'resourceChanged\'')) {
          this.problem(`${source}: the event subscription must deliver to the resourceChanged function (functions/resourceChanged.ts)`);
        }
        const filters = at(sub, 'properties', 'filter', 'advancedFilters');
        const stringIn = Array.isArray(filters) ? filters.filter((f) => at(f, 'operatorType') === 'StringIn' && at(f, 'key') === 'data.operationName') : [];
        if (stringIn.length !== 1) {
          this.problem(`${source}: the event subscription must filter with one StringIn on data.operationName`);
          continue;
        }
        const listed = at(stringIn[0], 'values');
        const values = (Array.isArray(listed) ? listed : []).map((v) => String(v).toLowerCase());
        const routed = ROUTED_OPERATIONS.map((o) => o.toLowerCase());
        for (const o of ROUTED_OPERATIONS) if (!values.includes(o.toLowerCase())) this.problem(`event filter: ${o} is routed by src/events/route.ts but not delivered by ${source}`);
        for (const v of values) if (!routed.includes(v)) this.problem(`event filter: ${v} is delivered by ${source} but src/events/route.ts ignores it`);
      }
    }
  }

  private checkFunctionApp(d: Deployment, azureYaml: AzureYaml | undefined): void {
    const source = 'infra/modules/functionapp.bicep';
    const plans = ofType(d, 'Microsoft.Web/serverfarms');
    if (plans.length !== 1 || at(plans[0], 'sku', 'tier') !== 'FlexConsumption' || at(plans[0], 'sku', 'name') !== 'FC1') this.problem(`${source}: the plan must be Flex Consumption (FC1)`);
    const site = this.site(d);
    const runtime = at(site, 'properties', 'functionAppConfig', 'runtime');
    if (at(runtime, 'name') !== 'node' || at(runtime, 'version') !== '22') this.problem(`${source}: the runtime must be node 22`);
    for (const [name, s] of Object.entries(azureYaml?.services ?? {})) {
      if (s.host === 'function' && site?.tags?.['azd-service-name'] !== name) this.problem(`azure.yaml: service ${name}: the Function App is not tagged azd-service-name: ${name} in infra/main.bicep`);
    }
  }
}

/** The stand-in a platform would resolve a Key Vault reference to: a URL for a `_URL` setting, a Standard Webhooks secret for a `_SECRET` one. */
function standInSecret(setting: string, webhooks: readonly string[]): string {
  if (webhooks.some((n) => webhookSecretSetting(n) === setting)) return `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  return `https://${setting.toLowerCase().replace(/_/g, '-')}.example.com/hook`;
}

/**
 * Checks the compiled infra/ against the code. @returns the problems found, each naming the file, setting or
 * resource and what disagrees; empty when infra/ and the code agree.
 * @throws Error when the compiler fails (not for what it finds: a deployment the engine refuses is a problem).
 */
export function checkInfra(input: InfraInput): Promise<string[]> {
  return new Checker(input).run();
}
