import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { webhookSecretSetting, webhookUrlSetting } from '../../src/config/alerts.js';
import { PLATFORM_SETTINGS, SETTINGS_NOT_DEPLOYED, SettingsSchema } from '../../src/config/settings.js';
import { SCAN_QUEUE } from '../../src/queues.js';
import { ROUTED_OPERATIONS } from '../../src/events/route.js';
import { SHARD_POISON_QUEUE, SHARD_QUEUE } from '../../src/shards.js';
import { type BicepFile, BicepSyntaxError, bodyObject, children, type Declaration, type Expr, literalString, parseBicep, property, walk } from './bicep.js';

/**
 * The infrastructure drift check (issue: infrastructure as code). Reads infra/ (Bicep, the azd
 * parameters file, azure.yaml and the hooks) and the code's own declarations, and reports every
 * disagreement:
 *
 * - settings: each setting of `SettingsSchema` (src/config/settings.ts) is set by infra/main.bicep,
 *   unless `SETTINGS_NOT_DEPLOYED` says why not; infra sets nothing else but the host's own settings
 *   (`PLATFORM_SETTINGS`) and the per-webhook `ALERT_WEBHOOK_<NAME>_URL`/`_SECRET` Key Vault references;
 *   literal values and parameter defaults pass the schema;
 * - roles: every role assignment is one of {@link ALLOWED_ROLES}, at the scope allowed for it, to the
 *   Function App's managed identity; no custom role definitions;
 * - queues and container: those the code uses exist;
 * - change events: the Event Grid filter is exactly `ROUTED_OPERATIONS` (src/events/route.ts), sent to
 *   the `resourceChanged` function;
 * - wiring: modules exist, their parameters and outputs match their use, every name resolves.
 *
 * Source of the roles: "Connecting to host storage with an identity" (Storage Blob Data Contributor,
 * Storage Queue Data Contributor), "Use Key Vault references as app settings" (Key Vault Secrets User)
 * and the Resource Graph / Resource Manager read permissions (Reader).
 */

/** Files of infra/ and the project root that the check reads, by path relative to the project root. */
export type InfraSources = ReadonlyMap<string, string>;

/** A role the deployment may grant, and where. */
export interface AllowedRole {
  readonly name: string;
  /** Built-in role definition GUID. */
  readonly id: string;
  /** Scopes: a target scope (`subscription`, `managementGroup`) or the resource type of the scope. */
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
];

/** Bicep functions infra/ may call (a name outside this list and the declarations is a typo). */
const FUNCTIONS = new Set([
  'subscription', 'resourceGroup', 'managementGroup', 'tenant', 'environment', 'deployment', 'uniqueString', 'guid', 'union', 'concat', 'split', 'join',
  'filter', 'map', 'toObject', 'reduce', 'flatten', 'string', 'json', 'empty', 'contains', 'toLower', 'toUpper', 'trim', 'replace', 'length', 'first',
  'last', 'take', 'skip', 'subscriptionResourceId', 'tenantResourceId', 'managementGroupResourceId', 'resourceId', 'extensionResourceId', 'format',
  'startsWith', 'endsWith', 'substring', 'coalesce', 'int', 'bool', 'range', 'items', 'any',
]);

/** Reads infra/ and the files the check compares it with, from a project root. */
export function readInfraSources(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = posix.join(dir, entry.name);
      if (entry.isDirectory()) visit(rel);
      else out.set(rel, readFileSync(join(root, rel), 'utf8'));
    }
  };
  if (existsSync(join(root, 'infra'))) visit('infra');
  for (const f of ['azure.yaml', 'functions/resourceChanged.ts']) {
    if (existsSync(join(root, f))) out.set(f, readFileSync(join(root, f), 'utf8'));
  }
  return out;
}

type Scope = ReadonlySet<string>;

/** The parts of azure.yaml the check reads. */
interface AzureYaml {
  infra?: { path?: string };
  services?: Record<string, { host?: string; language?: string; project?: string; remoteBuild?: boolean }>;
  hooks?: Record<string, Record<string, { run?: string }>>;
}

class Checker {
  readonly problems: string[] = [];
  readonly files = new Map<string, BicepFile>();

  constructor(private readonly sources: InfraSources) {}

  problem(text: string): void {
    this.problems.push(text);
  }

  run(): string[] {
    for (const [path, text] of this.sources) {
      if (!path.endsWith('.bicep')) continue;
      try {
        this.files.set(path, parseBicep(text, path));
      } catch (err) {
        if (!(err instanceof BicepSyntaxError)) throw err;
        this.problem(`syntax: ${err.message}`);
      }
    }
    const main = this.files.get('infra/main.bicep');
    if (!main) {
      if (!this.sources.has('infra/main.bicep')) this.problem('infra/main.bicep does not exist');
      return this.problems;
    }
    if (main.targetScope !== 'subscription') this.problem('infra/main.bicep: targetScope must be subscription (azd provisions the resource group itself)');
    for (const file of this.files.values()) this.checkNames(file);
    this.checkModules(main);
    this.checkParametersFile(main);
    this.checkAzureYaml();
    const settings = this.checkSettings(main);
    this.checkRoles(main, settings);
    this.checkStorage(main);
    this.checkEvents();
    this.checkFunctionApp();
    return this.problems;
  }

  // ---- wiring -------------------------------------------------------------------------------------

  private declared(file: BicepFile): Map<string, Declaration> {
    const out = new Map<string, Declaration>();
    for (const d of file.declarations) {
      if (d.k === 'targetScope' || d.k === 'output') continue;
      if (out.has(d.name)) this.problem(`${file.path}:${d.line}: ${d.name} is declared twice`);
      out.set(d.name, d);
    }
    return out;
  }

  /** Every identifier resolves: a declaration, a loop or lambda variable, or a known function. */
  private checkNames(file: BicepFile): void {
    const names = this.declared(file);
    const visit = (e: Expr, bound: Scope): void => {
      if (e.k === 'id') {
        if (!names.has(e.name) && !bound.has(e.name)) this.problem(`${file.path}:${e.line}: ${e.name} is not declared`);
        return;
      }
      if (e.k === 'call' && e.callee.k === 'id' && !FUNCTIONS.has(e.callee.name)) {
        this.problem(`${file.path}:${e.line}: ${e.callee.name}() is not a Bicep function this project uses`);
      }
      for (const c of children(e)) {
        // A function name is not a value to resolve; its arguments are.
        if (e.k === 'call' && c.expr === e.callee && e.callee.k === 'id') continue;
        visit(c.expr, c.binds.length > 0 ? new Set([...bound, ...c.binds]) : bound);
      }
    };
    for (const d of file.declarations) {
      if (d.k === 'param' && d.default) visit(d.default, new Set());
      if (d.k === 'var' || d.k === 'resource' || d.k === 'module' || d.k === 'output' || d.k === 'targetScope') visit(d.value, new Set());
    }
  }

  private moduleFile(from: BicepFile, path: string): BicepFile | undefined {
    return this.files.get(posix.normalize(posix.join(posix.dirname(from.path), path)));
  }

  /** Module paths exist; parameters passed are declared, required ones are passed; outputs used exist. */
  private checkModules(main: BicepFile): void {
    const modules = new Map<string, BicepFile>();
    for (const d of main.declarations) {
      if (d.k !== 'module') continue;
      const target = this.moduleFile(main, d.path);
      if (!target) {
        const path = posix.normalize(posix.join(posix.dirname(main.path), d.path));
        if (!this.sources.has(path)) this.problem(`${main.path}:${d.line}: module ${d.name}: ${d.path} does not exist`);
        continue;
      }
      modules.set(d.name, target);
      const body = bodyObject(d.value);
      const params = property(body, 'params');
      const declaredParams = new Map(target.declarations.filter((x) => x.k === 'param').map((x) => [x.name, x]));
      const passed = new Set(params?.k === 'object' ? params.props.map((p) => p.key) : []);
      for (const name of passed) if (!declaredParams.has(name)) this.problem(`${main.path}:${d.line}: module ${d.name} passes ${name}, which ${target.path} does not declare`);
      for (const [name, p] of declaredParams) {
        if (p.k === 'param' && !p.default && !passed.has(name)) this.problem(`${main.path}:${d.line}: module ${d.name} does not pass ${name}, which ${target.path} requires`);
      }
      if (target.targetScope !== 'subscription' && !property(body, 'scope')) this.problem(`${main.path}:${d.line}: module ${d.name} needs a scope (${target.path} is ${target.targetScope}-scoped)`);
    }
    // module.outputs.X: X is an output of the module.
    for (const d of main.declarations) {
      if (d.k === 'targetScope') continue;
      const exprs = d.k === 'param' ? (d.default ? [d.default] : []) : [d.value];
      for (const root of exprs) {
        for (const e of walk(root)) {
          if (e.k !== 'member' || e.object.k !== 'member' || e.object.name !== 'outputs') continue;
          let owner = e.object.object;
          if (owner.k === 'index') owner = owner.object;
          if (owner.k !== 'id') continue;
          const target = modules.get(owner.name);
          if (target && !target.declarations.some((x) => x.k === 'output' && x.name === e.name)) {
            this.problem(`${main.path}:${e.line}: ${owner.name}.outputs.${e.name}: ${target.path} has no output ${e.name}`);
          }
        }
      }
    }
    for (const path of this.files.keys()) {
      if (path === main.path) continue;
      const used = main.declarations.some((d) => d.k === 'module' && this.moduleFile(main, d.path)?.path === path)
        || [...this.sources.entries()].some(([p, text]) => p.startsWith('infra/hooks/') && text.includes(posix.basename(path)));
      if (!used) this.problem(`${path} is used by neither infra/main.bicep nor a hook`);
    }
  }

  /** main.parameters.json names only parameters of main.bicep, and gives every required one. */
  private checkParametersFile(main: BicepFile): void {
    const text = this.sources.get('infra/main.parameters.json');
    if (text === undefined) {
      this.problem('infra/main.parameters.json does not exist');
      return;
    }
    let parsed: { parameters?: Record<string, { value?: unknown }> };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      this.problem('infra/main.parameters.json is not JSON');
      return;
    }
    const given = parsed.parameters ?? {};
    const params = main.declarations.filter((d) => d.k === 'param');
    for (const name of Object.keys(given)) if (!params.some((p) => p.name === name)) this.problem(`infra/main.parameters.json sets ${name}, which infra/main.bicep does not declare`);
    for (const p of params) if (p.k === 'param' && !p.default && !(p.name in given)) this.problem(`infra/main.parameters.json does not set ${p.name}, which infra/main.bicep requires`);
  }

  /** azure.yaml: the Function App service, built here (no remote build), and hooks that exist. */
  private checkAzureYaml(): void {
    const text = this.sources.get('azure.yaml');
    if (text === undefined) {
      this.problem('azure.yaml does not exist');
      return;
    }
    const doc = parseYaml(text) as AzureYaml;
    if ((doc.infra?.path ?? 'infra') !== 'infra') this.problem('azure.yaml: infra.path must be infra');
    const services = Object.entries(doc.services ?? {});
    const fn = services.filter(([, s]) => s.host === 'function');
    if (fn.length !== 1) this.problem('azure.yaml: expected exactly one service with host: function');
    for (const [name, s] of fn) {
      if (s.remoteBuild !== false) this.problem(`azure.yaml: service ${name} must set remoteBuild: false (the package is the prebuilt bundle; .funcignore leaves out the sources)`);
      const main = this.files.get('infra/modules/functionapp.bicep');
      const tagsOk = this.files.get('infra/main.bicep')?.declarations.some((d) => d.k === 'module' && d.path === 'modules/functionapp.bicep'
        && [...walk(d.value)].some((e) => e.k === 'object' && e.props.some((p) => p.key === 'azd-service-name' && literalString(p.value) === name)));
      if (main && !tagsOk) this.problem(`azure.yaml: service ${name}: the Function App is not tagged azd-service-name: ${name} in infra/main.bicep`);
    }
    for (const [hook, variants] of Object.entries(doc.hooks ?? {})) {
      for (const [variant, spec] of Object.entries(variants)) {
        if (!spec.run || !this.sources.has(spec.run)) this.problem(`azure.yaml: hook ${hook} (${variant}) runs ${spec.run ?? '(nothing)'}, which does not exist`);
      }
    }
  }

  // ---- settings -----------------------------------------------------------------------------------

  private varValue(file: BicepFile, name: string): Expr | undefined {
    const d = file.declarations.find((x) => x.k === 'var' && x.name === name);
    return d?.k === 'var' ? d.value : undefined;
  }

  /** Setting name (or template with `<*>` for interpolations) → value expression, of an object expression. */
  private settingsOf(file: BicepFile, e: Expr, out: Map<string, Expr>): void {
    if (e.k === 'id') {
      const v = this.varValue(file, e.name);
      if (!v) this.problem(`${file.path}:${e.line}: app settings come from ${e.name}, which is not a var`);
      else this.settingsOf(file, v, out);
    } else if (e.k === 'object') {
      for (const p of e.props) out.set(p.key, p.value);
    } else if (e.k === 'call' && e.callee.k === 'id' && e.callee.name === 'union') {
      for (const a of e.args) this.settingsOf(file, a, out);
    } else if (e.k === 'call' && e.callee.k === 'id' && e.callee.name === 'toObject' && e.args[1]?.k === 'lambda' && e.args[2]?.k === 'lambda') {
      const key = e.args[1].body;
      if (key.k !== 'str') this.problem(`${file.path}:${e.line}: a toObject key must be a string template`);
      else out.set(key.parts.map((p) => (typeof p === 'string' ? p : '<*>')).join(''), e.args[2].body);
    } else {
      this.problem(`${file.path}:${e.line}: cannot read app settings from a ${e.k} expression (use objects, vars, union() and toObject())`);
    }
  }

  /** Compares the app settings that main.bicep deploys with the settings the code reads. */
  private checkSettings(main: BicepFile): Map<string, Expr> {
    const settings = new Map<string, Expr>();
    const call = main.declarations.find((d) => d.k === 'module' && d.path === 'modules/appsettings.bicep');
    const arg = call?.k === 'module' ? property(property(bodyObject(call.value), 'params'), 'settings') : undefined;
    if (!arg) {
      this.problem('infra/main.bicep: no module modules/appsettings.bicep with a settings parameter');
      return settings;
    }
    this.settingsOf(main, arg, settings);
    const schema = SettingsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
    const notDeployed = SETTINGS_NOT_DEPLOYED as Record<string, string | undefined>;
    const dynamic = [webhookUrlSetting('<*>'), webhookSecretSetting('<*>')];
    for (const key of Object.keys(schema)) {
      if (notDeployed[key]) {
        if (settings.has(key)) this.problem(`setting ${key}: infra/main.bicep sets it, but the code says it is not deployed (${notDeployed[key]})`);
      } else if (!settings.has(key)) {
        this.problem(`setting ${key}: read by the code (src/config/settings.ts) but not set by infra/main.bicep`);
      }
    }
    for (const [key, value] of settings) {
      if (key in schema) this.checkValue(main, key, value, schema[key]!);
      else if (dynamic.includes(key)) this.checkKeyVaultReference(main, key, value);
      else if (!PLATFORM_SETTINGS.includes(key)) this.problem(`setting ${key}: set by infra/main.bicep but not read by the code (not in SettingsSchema or PLATFORM_SETTINGS)`);
    }
    for (const key of dynamic) if (!settings.has(key)) this.problem(`setting ${key}: read by the code (src/config/alerts.ts) for each webhook but not set by infra/main.bicep`);
    for (const key of PLATFORM_SETTINGS) if (!settings.has(key)) this.problem(`setting ${key}: needed by the Functions host but not set by infra/main.bicep`);
    if (literalString(settings.get('AzureWebJobsStorage__credential')) !== 'managedidentity') this.problem('setting AzureWebJobsStorage__credential must be managedidentity');
    // The host and the code sign in as the same identity: both settings are `<identity>.outputs.clientId`.
    const identityClientId = (k: string): boolean => {
      const e = settings.get(k);
      return e?.k === 'member' && e.name === 'clientId' && e.object.k === 'member' && e.object.name === 'outputs';
    };
    const sameSource = JSON.stringify(settings.get('AZURE_CLIENT_ID'), (key: string, v: unknown) => (key === 'line' ? undefined : v))
      === JSON.stringify(settings.get('AzureWebJobsStorage__clientId'), (key: string, v: unknown) => (key === 'line' ? undefined : v));
    if (!identityClientId('AZURE_CLIENT_ID') || !identityClientId('AzureWebJobsStorage__clientId') || !sameSource) {
      this.problem('settings AzureWebJobsStorage__clientId and AZURE_CLIENT_ID must both be the identity\'s clientId output');
    }
    return settings;
  }

  /** A literal value, or the default and allowed values of the parameter it is, pass the schema. */
  private checkValue(main: BicepFile, key: string, value: Expr, field: { safeParse(v: unknown): { success: boolean } }): void {
    const candidates: string[] = [];
    const literal = literalString(value);
    if (literal !== undefined) candidates.push(literal);
    if (value.k === 'id') {
      const p = main.declarations.find((d) => d.k === 'param' && d.name === value.name);
      if (p?.k === 'param') {
        const d = literalString(p.default);
        if (d !== undefined) candidates.push(d);
        for (const dec of p.decorators) {
          if (dec.name === 'allowed' && dec.args[0]?.k === 'array') for (const item of dec.args[0].items) candidates.push(literalString(item) ?? '');
        }
      }
    }
    for (const c of candidates) {
      if (!field.safeParse(c === '' ? undefined : c).success) this.problem(`setting ${key}: infra/main.bicep can set ${JSON.stringify(c)}, which src/config/settings.ts rejects`);
    }
  }

  /** A webhook URL or secret is a Key Vault reference to the deployed vault, never a value. */
  private checkKeyVaultReference(main: BicepFile, key: string, value: Expr): void {
    const text = value.k === 'str' ? value.parts.map((p) => (typeof p === 'string' ? p : p.k === 'id' ? `{${p.name}}` : '{…}')).join('') : '';
    const vaultModule = main.declarations.find((d) => d.k === 'module' && d.path === 'modules/keyvault.bicep');
    const vaultName = vaultModule?.k === 'module' ? property(property(bodyObject(vaultModule.value), 'params'), 'name') : undefined;
    if (!text.startsWith('@Microsoft.KeyVault(VaultName=') || vaultName?.k !== 'id' || !text.includes(`VaultName={${vaultName.name}};SecretName=`)) {
      this.problem(`setting ${key}: must be a Key Vault reference to the deployed vault (@Microsoft.KeyVault(VaultName=…;SecretName=…)), not a value`);
    }
  }

  // ---- roles --------------------------------------------------------------------------------------

  private checkRoles(main: BicepFile, settings: Map<string, Expr>): void {
    const granted = new Set<string>();
    for (const file of this.files.values()) {
      for (const d of file.declarations) {
        if (d.k !== 'resource') continue;
        if (d.type === 'Microsoft.Authorization/roleDefinitions') this.problem(`${file.path}:${d.line}: defines a custom role (only the built-in roles of the allowed list may be granted)`);
        if (d.type !== 'Microsoft.Authorization/roleAssignments' || d.existing) continue;
        const body = bodyObject(d.value);
        const props = property(body, 'properties');
        const roleExpr = property(props, 'roleDefinitionId');
        const guids = new Set<string>();
        for (const e of roleExpr ? walk(roleExpr) : []) {
          const s = literalString(e) ?? (e.k === 'id' ? literalString(this.varValue(file, e.name)) : undefined);
          if (s && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)) guids.add(s.toLowerCase());
        }
        const where = `${file.path}:${d.line}: role assignment ${d.name}`;
        if (guids.size !== 1) {
          this.problem(`${where}: its role is not one literal built-in role ID`);
          continue;
        }
        const [guid] = [...guids];
        const role = ALLOWED_ROLES.find((r) => r.id === guid);
        if (!role) {
          this.problem(`${where}: grants role ${guid}, which is not in the allowed list (${ALLOWED_ROLES.map((r) => r.name).join(', ')})`);
          continue;
        }
        const scopeExpr = property(body, 'scope');
        let scope: string = file.targetScope;
        if (scopeExpr) {
          const target = scopeExpr.k === 'id' ? file.declarations.find((x) => x.k === 'resource' && x.name === scopeExpr.name) : undefined;
          if (target?.k !== 'resource') scope = 'an expression';
          else if (target.existing) scope = `an existing ${target.type} (not one this deployment creates)`;
          else scope = target.type;
        }
        if (!role.scopes.includes(scope)) this.problem(`${where}: grants ${role.name} at ${scope}; allowed only at ${role.scopes.join(' or ')}`);
        const principal = property(props, 'principalId');
        const principalParam = principal?.k === 'id' ? file.declarations.find((x) => x.k === 'param' && x.name === principal.name) : undefined;
        if (principalParam?.k !== 'param' || principalParam.name !== 'principalId') this.problem(`${where}: principalId must be the module's principalId parameter`);
        if (literalString(property(props, 'principalType')) !== 'ServicePrincipal') this.problem(`${where}: principalType must be ServicePrincipal`);
        granted.add(role.name);
      }
    }
    // Whoever calls a module with a principalId passes the Function App's identity.
    const identityModule = main.declarations.find((d) => d.k === 'module' && d.path === 'modules/identity.bicep');
    const identityName = identityModule?.k === 'module' ? identityModule.name : '(no identity module)';
    const isIdentityPrincipal = (e: Expr | undefined): boolean => e?.k === 'member' && e.name === 'principalId' && e.object.k === 'member' && e.object.name === 'outputs' && e.object.object.k === 'id' && e.object.object.name === identityName;
    for (const d of main.declarations) {
      if (d.k !== 'module') continue;
      const p = property(property(bodyObject(d.value), 'params'), 'principalId');
      if (p && !isIdentityPrincipal(p)) this.problem(`${main.path}:${d.line}: module ${d.name} is given a principalId other than ${identityName}.outputs.principalId`);
    }
    const out = main.declarations.find((d) => d.k === 'output' && d.name === 'AUDITOR_PRINCIPAL_ID');
    if (out?.k !== 'output' || !isIdentityPrincipal(out.value)) this.problem(`${main.path}: output AUDITOR_PRINCIPAL_ID (used by infra/hooks/postprovision) must be ${identityName}.outputs.principalId`);
    // Reader on exactly the subscriptions that are scanned.
    const reader = main.declarations.find((d) => d.k === 'module' && d.path === 'modules/reader.bicep');
    const scanned = settings.get('SCAN_SUBSCRIPTIONS');
    const source = reader?.k === 'module' && reader.value.k === 'for' ? reader.value.source : undefined;
    if (!source || source.k !== 'id' || scanned?.k !== 'call' || scanned.args[0]?.k !== 'id' || scanned.args[0].name !== source.name) {
      this.problem(`${main.path}: the Reader module must loop over the same subscriptions SCAN_SUBSCRIPTIONS lists`);
    }
    // Key Vault Secrets User is justified only by Key Vault references resolved with the app's identity.
    if (granted.has('Key Vault Secrets User')) {
      const references = [...settings.values()].some((v) => v.k === 'str' && typeof v.parts[0] === 'string' && v.parts[0].startsWith('@Microsoft.KeyVault('));
      const site = this.files.get('infra/modules/functionapp.bicep')?.declarations.find((d) => d.k === 'resource' && d.type === 'Microsoft.Web/sites');
      const kvIdentity = site?.k === 'resource' ? property(property(bodyObject(site.value), 'properties'), 'keyVaultReferenceIdentity') : undefined;
      if (!references || kvIdentity?.k !== 'id' || kvIdentity.name !== 'identityId') {
        this.problem('Key Vault Secrets User is granted, but no app setting is a Key Vault reference resolved with the app\'s identity (keyVaultReferenceIdentity)');
      }
    }
  }

  // ---- storage, events, app -----------------------------------------------------------------------

  private checkStorage(main: BicepFile): void {
    const queues = literalList(this.varValue(main, 'queueNames'));
    const needed = [SCAN_QUEUE, SHARD_QUEUE, SHARD_POISON_QUEUE];
    for (const q of needed) if (!queues.includes(q)) this.problem(`queue ${q}: used by the code but not created by infra/main.bicep (var queueNames)`);
    for (const q of queues) if (!needed.includes(q) && !needed.some((n) => q === `${n}-poison`)) this.problem(`queue ${q}: created by infra/main.bicep but not used by the code`);
    const storageFile = this.files.get('infra/modules/storage.bicep');
    const account = storageFile?.declarations.find((d) => d.k === 'resource' && d.type === 'Microsoft.Storage/storageAccounts');
    const props = account?.k === 'resource' ? property(bodyObject(account.value), 'properties') : undefined;
    if (property(props, 'allowSharedKeyAccess')?.k !== 'bool' || (property(props, 'allowSharedKeyAccess') as { value: boolean }).value !== false) {
      this.problem('infra/modules/storage.bicep: the storage account must set allowSharedKeyAccess: false');
    }
    const container = literalString(this.varValue(main, 'auditContainerName'));
    if (container !== 'audit') this.problem('infra/main.bicep: var auditContainerName must be the audit container (audit)');
  }

  private checkEvents(): void {
    const file = this.files.get('infra/modules/changeevents.bicep');
    if (!file) {
      this.problem('infra/modules/changeevents.bicep does not exist');
      return;
    }
    const topic = file.declarations.find((d) => d.k === 'resource' && d.type === 'Microsoft.EventGrid/systemTopics');
    const topicProps = topic?.k === 'resource' ? property(bodyObject(topic.value), 'properties') : undefined;
    if (literalString(property(topicProps, 'topicType')) !== 'Microsoft.Resources.Subscriptions') this.problem(`${file.path}: the system topic must be of type Microsoft.Resources.Subscriptions`);
    const subs = file.declarations.filter((d) => d.k === 'resource' && d.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
    if (subs.length !== 1) this.problem(`${file.path}: expected one event subscription, found ${subs.length}`);
    for (const sub of subs) {
      if (sub.k !== 'resource') continue;
      const props = property(bodyObject(sub.value), 'properties');
      const endpoint = property(property(property(props, 'destination'), 'properties'), 'resourceId');
      const last = endpoint?.k === 'str' ? endpoint.parts.at(-1) : undefined;
      const functionSource = this.sources.get('functions/resourceChanged.ts') ?? '';
      if (typeof last !== 'string' || !last.endsWith('/functions/resourceChanged') || !functionSource.includes('app.eventGrid(\'resourceChanged\'')) {
        this.problem(`${file.path}: the event subscription must deliver to the resourceChanged function (functions/resourceChanged.ts)`);
      }
      const filters = property(property(props, 'filter'), 'advancedFilters');
      const stringIn = filters?.k === 'array' ? filters.items.filter((f) => literalString(property(f, 'operatorType')) === 'StringIn' && literalString(property(f, 'key')) === 'data.operationName') : [];
      if (stringIn.length !== 1) {
        this.problem(`${file.path}: the event subscription must filter with one StringIn on data.operationName`);
        continue;
      }
      const values = literalList(property(stringIn[0], 'values')).map((v) => v.toLowerCase());
      const routed = ROUTED_OPERATIONS.map((o) => o.toLowerCase());
      for (const o of ROUTED_OPERATIONS) if (!values.includes(o.toLowerCase())) this.problem(`event filter: ${o} is routed by src/events/route.ts but not delivered by ${file.path}`);
      for (const v of values) if (!routed.includes(v)) this.problem(`event filter: ${v} is delivered by ${file.path} but src/events/route.ts ignores it`);
    }
  }

  private checkFunctionApp(): void {
    const file = this.files.get('infra/modules/functionapp.bicep');
    const plan = file?.declarations.find((d) => d.k === 'resource' && d.type === 'Microsoft.Web/serverfarms');
    const sku = plan?.k === 'resource' ? property(bodyObject(plan.value), 'sku') : undefined;
    if (literalString(property(sku, 'tier')) !== 'FlexConsumption' || literalString(property(sku, 'name')) !== 'FC1') this.problem('infra/modules/functionapp.bicep: the plan must be Flex Consumption (FC1)');
    const site = file?.declarations.find((d) => d.k === 'resource' && d.type === 'Microsoft.Web/sites');
    const body = site?.k === 'resource' ? bodyObject(site.value) : undefined;
    const runtime = property(property(property(body, 'properties'), 'functionAppConfig'), 'runtime');
    if (literalString(property(runtime, 'name')) !== 'node' || literalString(property(runtime, 'version')) !== '22') this.problem('infra/modules/functionapp.bicep: the runtime must be node 22');
    if (literalString(property(property(body, 'identity'), 'type')) !== 'UserAssigned') this.problem('infra/modules/functionapp.bicep: the app must use its user-assigned identity');
  }
}

function literalList(e: Expr | undefined): string[] {
  return e?.k === 'array' ? e.items.map((i) => literalString(i)).filter((s): s is string => s !== undefined) : [];
}

/**
 * Checks infra/ against the code. @returns the problems found, each naming the file (and line) and
 * what disagrees; empty when infra/ and the code agree.
 */
export function checkInfra(sources: InfraSources): string[] {
  return new Checker(sources).run();
}
