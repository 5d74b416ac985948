import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ArmFunctions, ArmExpressionError, evaluateExpression, expressionOf } from './arm-expression.js';
import type { ArmTemplate } from './build.js';
import { BicepRpcError, type BicepSession, type DeploymentScope } from './rpc.js';

/**
 * What a deployment of a compiled template would create, without Azure: Bicep's deployment snapshot
 * (`bicep snapshot`; here its JSON-RPC twin `bicep/getSnapshot`), in which Microsoft's template engine
 * evaluates the template with a parameters file (.bicepparam, `using` the compiled JSON) at a given scope:
 * every resource with its type, id, properties, `dependsOn` resolved away, copies expanded, conditions
 * applied, module parameters passed through. The values only a real deployment knows (an identity's
 * client ID, a storage account's endpoints, a site's host name, role assignment names hashed from them)
 * stay ARM expressions; {@link evaluateDeployment} replaces them with documented stand-ins
 * ({@link runtimeProperties}), so that every value is a plain one the checks and the code's own settings
 * loaders can read.
 */

/** A parameter value of a parameters file. */
export type ParameterValue = string | number | boolean;

/** Parameter name → value; parameters not given take their defaults. */
export type Parameters = Readonly<Record<string, ParameterValue>>;

/** The stand-in tenant and subscription the snapshots deploy to (not real ones). */
export const STAND_IN_TENANT = '00000000-0000-4000-8000-0000000000bb';
export const STAND_IN_SUBSCRIPTION = '00000000-0000-4000-8000-0000000000aa';
/** The region of the stand-in deployment, also given as the template's `location` parameter. */
export const STAND_IN_LOCATION = 'westeurope';

/** `azd provision`: infra/main.bicep at subscription scope. */
export const SUBSCRIPTION_DEPLOYMENT: DeploymentScope = {
  tenantId: STAND_IN_TENANT,
  subscriptionId: STAND_IN_SUBSCRIPTION,
  location: STAND_IN_LOCATION,
  deploymentName: 'perimeter-auditor',
};

/** The postprovision hook: the management-group template at one management group. */
export const MANAGEMENT_GROUP_DEPLOYMENT: DeploymentScope = {
  tenantId: STAND_IN_TENANT,
  managementGroupId: 'mg-audited',
  location: STAND_IN_LOCATION,
  deploymentName: 'perimeter-auditor-reader',
};

/** A resource the deployment would create, as the snapshot predicts it (runtime values resolved). */
export interface PredictedResource {
  /** Full resource ID, e.g. `/subscriptions/…/resourceGroups/rg/providers/Microsoft.Web/sites/func-x`. */
  readonly id: string;
  /** e.g. `Microsoft.Web/sites/config`. */
  readonly type: string;
  readonly name: string;
  readonly apiVersion: string;
  readonly location?: string;
  readonly kind?: string;
  readonly sku?: Readonly<Record<string, unknown>>;
  readonly identity?: { readonly type?: string; readonly userAssignedIdentities?: Readonly<Record<string, unknown>> };
  readonly tags?: Readonly<Record<string, string>>;
  readonly properties?: Readonly<Record<string, unknown>>;
}

/** A deployment's predicted resources and outputs, and the parameters it was evaluated with. */
export interface Deployment {
  readonly parameters: Parameters;
  readonly scope: DeploymentScope;
  readonly resources: readonly PredictedResource[];
  readonly outputs: Readonly<Record<string, unknown>>;
}

/** Thrown when the template engine refuses the deployment (as Azure would, before creating anything). */
export class DeploymentError extends Error {}

/** Thrown when a runtime value has no stand-in here (a new `reference()` to stand in, with its source). */
export class StandInError extends Error {}

/** A Bicep string literal. */
function bicepString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, '\\\'').replace(/\$\{/g, '\\${').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}'`;
}

/**
 * A .bicepparam file: `using '<template>'` and one `param name = value` a parameter.
 * @throws Error for a parameter name that is not an identifier.
 */
export function bicepParams(using: string, parameters: Parameters): string {
  const lines = [`using ${bicepString(using)}`];
  for (const [name, value] of Object.entries(parameters)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a parameter name: ${name}`);
    lines.push(`param ${name} = ${typeof value === 'string' ? bicepString(value) : String(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A GUID-shaped stand-in derived from `text` (the same text, the same GUID). */
export function standInGuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The resource type of a resource ID: `/subscriptions/s` → `Microsoft.Resources/subscriptions`,
 * `…/resourceGroups/g` → `Microsoft.Resources/resourceGroups`, `…/providers/Ns/a/x/b/y` → `Ns/a/b` (after the
 * last `/providers/`, so an extension resource has its own type, not its scope's).
 */
export function resourceTypeOf(id: string): string {
  const at = id.toLowerCase().lastIndexOf('/providers/');
  if (at < 0) return /\/resourceGroups\/[^/]+$/i.test(id) ? 'Microsoft.Resources/resourceGroups' : 'Microsoft.Resources/subscriptions';
  const [ns, ...rest] = id.slice(at + '/providers/'.length).split('/');
  return [ns, ...rest.filter((_, i) => i % 2 === 0)].join('/');
}

/** The scope of an extension resource (the part of its ID before `/providers/<its type>/…`), e.g. a role assignment's. */
export function scopeOf(id: string, type: string): string {
  const at = id.toLowerCase().lastIndexOf(`/providers/${type.toLowerCase()}/`);
  return at < 0 ? '' : id.slice(0, at);
}

/** The environment() of Azure's public cloud (what the stand-in deployment runs in). */
const AZURE_CLOUD = {
  name: 'AzureCloud',
  resourceManager: 'https://management.azure.com/',
  suffixes: { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net', acrLoginServer: '.azurecr.io' },
};

/**
 * The stand-in of `reference(id)`: the runtime properties Azure would return for a resource the deployment
 * creates, in the shapes its REST API documents (only those infra/ reads):
 * - `Microsoft.ManagedIdentity/userAssignedIdentities`: `principalId`, `clientId` (GUIDs derived from the ID), `tenantId`;
 * - `Microsoft.Storage/storageAccounts`: `primaryEndpoints.{blob,queue,table,file,dfs,web}` (`https://<name>.blob.core.windows.net/`);
 * - `Microsoft.Web/sites`: `defaultHostName` (`<name>.azurewebsites.net`);
 * - `Microsoft.Insights/components`: `ConnectionString`, `InstrumentationKey`;
 * - `Microsoft.KeyVault/vaults`: `vaultUri`;
 * - `Microsoft.Insights/dataCollectionRules`: `immutableId` (`dcr-` and 32 hex digits) and, a `Direct` rule's,
 *   `endpoints.logsIngestion` (`https://<name>-<4 characters>.<region>-1.ingest.monitor.azure.com`, the form of
 *   a logs ingestion endpoint: AZURE-FACTS.md "Logs Ingestion API", "Data collection endpoints in Azure Monitor").
 * @throws StandInError for another type (a stand-in must be added, with its source, before infra/ may read it).
 */
export function runtimeProperties(id: string): Readonly<Record<string, unknown>> {
  const type = resourceTypeOf(id);
  const name = id.split('/').at(-1) ?? '';
  const suffix = AZURE_CLOUD.suffixes.storage;
  switch (type.toLowerCase()) {
    case 'microsoft.managedidentity/userassignedidentities':
      return { principalId: standInGuid(`principalId ${id}`), clientId: standInGuid(`clientId ${id}`), tenantId: STAND_IN_TENANT };
    case 'microsoft.storage/storageaccounts':
      return { primaryEndpoints: Object.fromEntries(['blob', 'queue', 'table', 'file', 'dfs', 'web'].map((s) => [s, `https://${name}.${s}.${suffix}/`])) };
    case 'microsoft.web/sites':
      return { defaultHostName: `${name}.azurewebsites.net` };
    case 'microsoft.insights/components': {
      const key = standInGuid(`instrumentationKey ${id}`);
      return { InstrumentationKey: key, ConnectionString: `InstrumentationKey=${key};IngestionEndpoint=https://${STAND_IN_LOCATION}-1.in.applicationinsights.azure.com/` };
    }
    case 'microsoft.keyvault/vaults':
      return { vaultUri: `https://${name}${AZURE_CLOUD.suffixes.keyvaultDns}/` };
    case 'microsoft.insights/datacollectionrules': {
      const digest = createHash('sha256').update(`dataCollectionRule ${id.toLowerCase()}`).digest('hex');
      return {
        immutableId: `dcr-${digest.slice(0, 32)}`,
        endpoints: { logsIngestion: `https://${name.toLowerCase()}-${digest.slice(32, 36)}.${STAND_IN_LOCATION}-1.ingest.monitor.azure.com` },
      };
    }
    default:
      throw new StandInError(`reference() of a ${type}: no stand-in for its runtime properties (scripts/infra/snapshot.ts runtimeProperties)`);
  }
}

function resourceIdFunctions(scope: DeploymentScope): ArmFunctions {
  const path = (type: string, names: unknown[]): string => {
    const [ns, ...types] = type.split('/');
    return `${ns}/${types.map((t, i) => `${t}/${String(names[i])}`).join('/')}`;
  };
  return {
    // resourceId([subscriptionId], [resourceGroupName], type, name…): the type is the first argument with a '/'.
    resourceid: (...args) => {
      const at = args.findIndex((a) => String(a).includes('/'));
      const [type, ...names] = args.slice(at);
      const [sub, group] = at === 2 ? args : at === 1 ? [scope.subscriptionId, args[0]] : [scope.subscriptionId, undefined];
      return `/subscriptions/${String(sub)}${group === undefined ? '' : `/resourceGroups/${String(group)}`}/providers/${path(String(type), names)}`;
    },
    extensionresourceid: (on, type, ...names) => `${String(on)}/providers/${path(String(type), names)}`,
    subscriptionresourceid: (...args) => {
      const [sub, type, ...names] = String(args[0]).includes('/') ? [scope.subscriptionId, ...args] : args;
      return `/subscriptions/${String(sub)}/providers/${path(String(type), names)}`;
    },
    tenantresourceid: (type, ...names) => `/providers/${path(String(type), names)}`,
  };
}

/** The functions a snapshot leaves in runtime values, with stand-ins where only Azure knows the value. */
function runtimeFunctions(scope: DeploymentScope): ArmFunctions {
  return {
    ...resourceIdFunctions(scope),
    reference: (id, _apiVersion, full) => {
      if (full !== undefined) throw new StandInError('reference(…, \'Full\') is not stood in');
      return runtimeProperties(String(id));
    },
    environment: () => AZURE_CLOUD,
    format: (fmt, ...args) => String(fmt).replace(/\{(\d+)\}/g, (_, i: string) => String(args[Number(i)])),
    concat: (...args) => (args.every(Array.isArray) ? args.flat() : args.map(String).join('')),
    string: (v) => (typeof v === 'string' ? v : JSON.stringify(v)),
    guid: (...args) => standInGuid(`guid ${args.map(String).join('\n')}`),
    tolower: (s) => String(s).toLowerCase(),
  };
}

/** `value` with each runtime expression string replaced by its stand-in value (deeply). */
function resolveRuntime(value: unknown, functions: ArmFunctions): unknown {
  if (typeof value === 'string') {
    const e = expressionOf(value);
    if (!e) return value;
    try {
      return evaluateExpression(e, functions);
    } catch (err) {
      if (err instanceof ArmExpressionError) throw new StandInError(`${value}: ${err.message}`);
      throw err;
    }
  }
  if (Array.isArray(value)) return value.map((v) => resolveRuntime(v, functions));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [resolveRuntime(k, functions), resolveRuntime(v, functions)]));
  return value;
}

/**
 * Evaluates `template` with `parameters` at `scope` through the running compiler: writes the template and a
 * .bicepparam file using it to a temporary folder, takes the snapshot, and resolves its runtime values with
 * {@link runtimeProperties}.
 * @throws DeploymentError when the template engine refuses the deployment (a parameter that is missing or not
 *   allowed, an index out of range, …) or the snapshot reports diagnostics; StandInError when a runtime value has no stand-in.
 */
export async function evaluateDeployment(session: BicepSession, template: ArmTemplate, parameters: Parameters, scope: DeploymentScope): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'pa-infra-snapshot-'));
  let text: string;
  try {
    writeFileSync(join(dir, 'template.json'), JSON.stringify(template));
    writeFileSync(join(dir, 'deployment.bicepparam'), bicepParams('template.json', parameters));
    text = await session.snapshot(join(dir, 'deployment.bicepparam'), scope);
  } catch (err) {
    if (err instanceof BicepRpcError) throw new DeploymentError(`the deployment with ${JSON.stringify(parameters)} fails: ${err.message}`);
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const snapshot = JSON.parse(text) as { predictedResources: unknown[]; diagnostics?: unknown[]; outputs?: Record<string, unknown> };
  if (snapshot.diagnostics && snapshot.diagnostics.length > 0) {
    throw new DeploymentError(`the deployment with ${JSON.stringify(parameters)}: ${JSON.stringify(snapshot.diagnostics)}`);
  }
  const functions = runtimeFunctions(scope);
  return {
    parameters,
    scope,
    resources: resolveRuntime(snapshot.predictedResources, functions) as PredictedResource[],
    outputs: resolveRuntime(snapshot.outputs ?? {}, functions) as Record<string, unknown>,
  };
}
