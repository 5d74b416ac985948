import type { Row, SimulatorTenant } from './server.js';

/**
 * Generates a large synthetic tenant for the scale benchmark (`npm run bench`) and the fan-out
 * tests: `accounts` Cognitive Services accounts spread over `subscriptions` subscriptions, with the
 * storage accounts, perimeters, associations, profiles, access rules and role assignments around
 * them, in the raw ARM shapes of AZURE-FACTS.md.
 *
 * Account rows carry the bulk real rows have (capabilities, endpoints, call-rate limits), so that a
 * query projecting only what the normalizer reads is measurably smaller than `resources` whole.
 * Deterministic for a given seed.
 */

export interface GenerateOptions {
  /** Cognitive Services accounts (count). */
  readonly accounts: number;
  /** Subscriptions (count); accounts are spread evenly. */
  readonly subscriptions: number;
  /** PRNG seed. Default 1. */
  readonly seed?: number;
  /** Share of accounts associated with a perimeter, in [0, 1]. Default 0.3. */
  readonly associatedShare?: number;
}

/** mulberry32: a small deterministic PRNG; returns numbers in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A GUID-shaped ID made from two numbers (stable, unique per pair). */
function guid(a: number, b: number): string {
  const h = (n: number, w: number) => (n >>> 0).toString(16).padStart(w, '0').slice(-w);
  return `${h(a, 8)}-${h(b >>> 16, 4)}-4${h(b, 3)}-8${h(a >>> 4, 3)}-${h(a * 7919 + b, 8)}${h(b * 31, 4)}`;
}

const TENANT_ID = 'a1b2c3d4-0000-4000-8000-00000000c0de';
const KINDS = ['OpenAI', 'AIServices', 'CognitiveServices', 'FormRecognizer', 'TextAnalytics', 'SpeechServices', 'ContentSafety'];
const REGIONS = ['eastus', 'eastus2', 'westeurope', 'swedencentral', 'australiaeast'];
const STORAGE_BLOB_DATA_READER = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';

/** The capability list a real account row carries (only its size matters here). */
function capabilities(kind: string): Array<{ name: string; value?: string }> {
  const names = ['VirtualNetworks', 'CustomerManagedKey', 'MaxFineTuneCount', 'MaxRunningFineTuneCount', 'MaxUserFileCount',
    'MaxTrainingFileSize', 'MaxUserFileImportDurationInHours', 'MaxFineTuneJobDurationInHours', 'TrustedServices',
    'RaiMonitor', 'CommitmentPlan', 'NetworkSecurityPerimeter', 'Container', 'DynamicThrottling', 'AllowProjectManagement',
    'EnableRLSForThrottling', 'MaxEvaluationRunDurationInHours', 'MaxEvaluationRunCount'];
  return names.map((name, i) => (i % 3 === 0 ? { name } : { name, value: `${kind === 'OpenAI' ? 100 : 10}${i}` }));
}

function endpoints(name: string): Record<string, string> {
  const paths = ['OpenAI Language Model Instance API', 'OpenAI Dall-E API', 'OpenAI Realtime API', 'OpenAI Sora API',
    'Token Service API', 'Content Safety', 'Speech Services Speech to Text', 'Speech Services Text to Speech',
    'Computer Vision', 'Form Recognizer', 'Language', 'Translator', 'Azure AI Model Inference API', 'Assistants API'];
  return Object.fromEntries(paths.map((p) => [p, `https://${name}.cognitiveservices.azure.com/${p.toLowerCase().replace(/\s+/g, '-')}/`]));
}

/** Cosmos DB accounts per batch of five subscriptions (count): the bench's tenant exercises the sqlRoleAssignments step. */
export const COSMOS_PER_BATCH = 2;

/**
 * Builds the tenant. Per subscription: one resource group of accounts, one of data, one storage
 * account per two accounts; per five subscriptions, a perimeter (with one profile, two inbound and
 * one outbound access rule) and `COSMOS_PER_BATCH` Cosmos DB accounts in the first of them. A share of accounts is associated (Enforced or
 * Learning), most have a system-assigned identity holding a data role on a storage account, and
 * every subscription has a few role assignments for people (rows the scan reads and discards).
 */
export function generateTenant(o: GenerateOptions): SimulatorTenant {
  const random = prng(o.seed ?? 1);
  const share = o.associatedShare ?? 0.3;
  const subs = Array.from({ length: o.subscriptions }, (_, i) => guid(0x5ab00000 + i, i * 2654435761));
  const resourcecontainers: Row[] = subs.map((id, i) => ({
    id: `/subscriptions/${id}`,
    name: `sub-${String(i).padStart(5, '0')}`,
    type: 'microsoft.resources/subscriptions',
    tenantId: TENANT_ID,
    subscriptionId: id,
    resourceGroup: '',
    location: '',
    tags: {},
    properties: { state: 'Enabled', subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'EnterpriseAgreement_2014-09-01', spendingLimit: 'Off' } },
  }));
  const resources: Row[] = [];
  const networkresources: Row[] = [];
  const authorizationresources: Row[] = [];
  const perimeterConfigurations: Record<string, Row[]> = {};
  const sqlRoleAssignments: Record<string, Row[]> = {};
  const perimeterOf = (s: number) => {
    const home = subs[s - (s % 5)] as string;
    const nsp = `/subscriptions/${home}/resourceGroups/rg-network/providers/Microsoft.Network/networkSecurityPerimeters/nsp-${s - (s % 5)}`;
    return { home, nsp, profile: `${nsp}/profiles/default` };
  };
  // Perimeters, profiles and access rules.
  for (let s = 0; s < subs.length; s += 5) {
    const { home, nsp, profile } = perimeterOf(s);
    const base = { subscriptionId: home, resourceGroup: 'rg-network', tenantId: TENANT_ID, location: 'eastus' };
    networkresources.push({ id: nsp, name: `nsp-${s}`, type: 'microsoft.network/networksecurityperimeters', ...base, tags: {}, properties: { perimeterGuid: guid(s, 77), provisioningState: 'Succeeded' } });
    networkresources.push({ id: profile, name: 'default', type: 'microsoft.network/networksecurityperimeters/profiles', ...base, properties: { accessRulesVersion: 2, diagnosticSettingsVersion: 1 } });
    const rule = (name: string, properties: Row) => ({ id: `${profile}/accessRules/${name}`, name, type: 'microsoft.network/networksecurityperimeters/profiles/accessrules', ...base, location: '', properties: { ...properties, provisioningState: 'Succeeded' } });
    networkresources.push(rule('allow-corp', { direction: 'Inbound', addressPrefixes: [`198.51.${s % 256}.0/24`] }));
    networkresources.push(rule('allow-home-subscription', { direction: 'Inbound', subscriptions: [{ id: `/subscriptions/${home}` }] }));
    networkresources.push(rule('allow-data', { direction: 'Outbound', fullyQualifiedDomainNames: [`data${s}.blob.core.windows.net`] }));
    // Cosmos DB accounts (ID-02, ID-04): COSMOS_PER_BATCH in the batch's first subscription, the first one in
    // the batch's perimeter, each with one data-plane role assignment (to the identity of account `s`, if it
    // has one). No draw from `random`, so the rest of the tenant is the same as without them.
    // One Azure AI Search service per batch (an inventory row; no role assignment, so no account reaches it).
    resources.push({
      id: `/subscriptions/${home}/resourceGroups/rg-data/providers/Microsoft.Search/searchServices/search-${s}`, name: `search-${s}`, type: 'microsoft.search/searchservices',
      location: 'eastus', subscriptionId: home, resourceGroup: 'rg-data', tenantId: TENANT_ID, tags: {}, sku: { name: 'standard' }, properties: { provisioningState: 'succeeded' },
    });
    for (let c = 0; c < COSMOS_PER_BATCH; c++) {
      const cosmosName = `cosmos-${s}-${c}`;
      const cosmosId = `/subscriptions/${home}/resourceGroups/rg-data/providers/Microsoft.DocumentDB/databaseAccounts/${cosmosName}`;
      resources.push({
        id: cosmosId, name: cosmosName, type: 'microsoft.documentdb/databaseaccounts', kind: 'GlobalDocumentDB', location: 'eastus', subscriptionId: home,
        resourceGroup: 'rg-data', tenantId: TENANT_ID, tags: {}, properties: { documentEndpoint: `https://${cosmosName}.documents.azure.com:443/`, provisioningState: 'Succeeded' },
      });
      if (c === 0) {
        networkresources.push({
          id: `${nsp}/resourceAssociations/${cosmosName}-assoc`, name: `${cosmosName}-assoc`, type: 'microsoft.network/networksecurityperimeters/resourceassociations',
          ...base, properties: { privateLinkResource: { id: cosmosId }, profile: { id: profile }, accessMode: 'Enforced', provisioningState: 'Succeeded', hasProvisioningIssues: 'no' },
        });
      }
      sqlRoleAssignments[cosmosId.toLowerCase()] = [{
        id: `${cosmosId}/sqlRoleAssignments/${guid(0x5c000000 + s, c)}`, name: guid(0x5c000000 + s, c), type: 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments',
        properties: { principalId: guid(0x1d000000 + s, s), roleDefinitionId: `${cosmosId}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000001`, scope: cosmosId },
      }];
    }
  }
  for (let a = 0; a < o.accounts; a++) {
    const s = a % subs.length;
    const sub = subs[s] as string;
    const kind = KINDS[a % KINDS.length] as string;
    const location = REGIONS[a % REGIONS.length] as string;
    const name = `ai-${kind.toLowerCase()}-${a}`;
    const id = `/subscriptions/${sub}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/${name}`;
    const storageName = `data${Math.floor(a / 2)}`;
    const storageId = `/subscriptions/${sub}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/${storageName}`;
    if (a % 2 === 0) {
      resources.push({
        id: storageId, name: storageName, type: 'microsoft.storage/storageaccounts', kind: 'StorageV2', location, subscriptionId: sub,
        resourceGroup: 'rg-data', tenantId: TENANT_ID, sku: { name: 'Standard_LRS', tier: 'Standard' }, tags: { owner: 'data-platform' },
        properties: { publicNetworkAccess: random() < 0.5 ? 'Disabled' : 'Enabled', allowSharedKeyAccess: false, minimumTlsVersion: 'TLS1_2',
          primaryEndpoints: { blob: `https://${storageName}.blob.core.windows.net/`, dfs: `https://${storageName}.dfs.core.windows.net/` } },
      });
    }
    const hasIdentity = random() < 0.8;
    const principalId = guid(0x1d000000 + a, a);
    const associated = random() < share;
    const open = random() < 0.25;
    resources.push({
      id, name, type: 'microsoft.cognitiveservices/accounts', kind, location, subscriptionId: sub, resourceGroup: 'rg-ai', tenantId: TENANT_ID,
      sku: { name: 'S0' }, tags: { team: `team-${a % 40}`, env: a % 3 === 0 ? 'prod' : 'dev' }, etag: `"${guid(a, 3)}"`,
      ...(hasIdentity ? { identity: { type: 'SystemAssigned', principalId, tenantId: TENANT_ID } } : {}),
      systemData: { createdAt: '2025-03-01T10:00:00Z', createdBy: 'deployer@contoso.example', createdByType: 'User', lastModifiedAt: '2026-10-01T10:00:00Z' },
      properties: {
        endpoint: `https://${name}.cognitiveservices.azure.com/`,
        internalId: guid(a, 11).replace(/-/g, ''),
        dateCreated: '2025-03-01T10:00:00.000Z',
        callRateLimit: { rules: [{ key: 'token', renewalPeriod: 60, count: 30000, matchPatterns: [{ path: 'openai/*', method: '*' }] }] },
        isMigrated: false,
        customSubDomainName: name,
        capabilities: capabilities(kind),
        endpoints: endpoints(name),
        publicNetworkAccess: associated ? 'SecuredByPerimeter' : open ? 'Enabled' : 'Disabled',
        networkAcls: open ? { defaultAction: 'Allow', bypass: 'AzureServices', ipRules: [], virtualNetworkRules: [] } : { defaultAction: 'Deny', bypass: 'None', ipRules: [{ value: `203.0.113.${a % 256}` }], virtualNetworkRules: [] },
        disableLocalAuth: random() < 0.6,
        restrictOutboundNetworkAccess: random() < 0.4,
        allowedFqdnList: [`${storageName}.blob.core.windows.net`],
        privateEndpointConnections: [],
        provisioningState: 'Succeeded',
      },
    });
    if (hasIdentity) {
      authorizationresources.push({
        id: `${storageId}/providers/Microsoft.Authorization/roleAssignments/${guid(0x2a000000 + a, a)}`, name: guid(0x2a000000 + a, a),
        type: 'microsoft.authorization/roleassignments', subscriptionId: sub, resourceGroup: 'rg-data', tenantId: TENANT_ID,
        properties: { principalId, principalType: 'ServicePrincipal', roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${random() < 0.9 ? STORAGE_BLOB_DATA_READER : CONTRIBUTOR}`,
          scope: storageId, createdOn: '2025-03-01T10:00:00Z', updatedOn: '2025-03-01T10:00:00Z', createdBy: guid(9, a), updatedBy: guid(9, a) },
      });
    }
    if (associated) {
      const { home, nsp, profile } = perimeterOf(s);
      const assoc = `${name}-assoc`;
      const accessMode = random() < 0.7 ? 'Enforced' : 'Learning';
      networkresources.push({
        id: `${nsp}/resourceAssociations/${assoc}`, name: assoc, type: 'microsoft.network/networksecurityperimeters/resourceassociations', location: 'eastus',
        subscriptionId: home, resourceGroup: 'rg-network', tenantId: TENANT_ID,
        properties: { privateLinkResource: { id }, profile: { id: profile }, accessMode, provisioningState: 'Succeeded', hasProvisioningIssues: 'no' },
      });
      perimeterConfigurations[id.toLowerCase()] = [{
        id: `${id}/networkSecurityPerimeterConfigurations/${guid(s, 77)}.${assoc}`, name: `${guid(s, 77)}.${assoc}`,
        type: 'Microsoft.CognitiveServices/accounts/networkSecurityPerimeterConfigurations',
        properties: {
          provisioningState: 'Succeeded', provisioningIssues: [],
          networkSecurityPerimeter: { id: nsp, perimeterGuid: guid(s, 77), location: 'eastus' },
          resourceAssociation: { name: assoc, accessMode },
          profile: { name: 'default', accessRulesVersion: 2, accessRules: [], diagnosticSettingsVersion: 1, enabledLogCategories: ['NspPublicInboundPerimeterRulesDenied', 'NspPublicOutboundPerimeterRulesDenied'] },
        },
      }];
    }
  }
  // People's role assignments: three per subscription.
  for (const [s, sub] of subs.entries()) {
    for (let k = 0; k < 3; k++) {
      const ra = guid(0x3b000000 + s, k);
      authorizationresources.push({
        id: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments/${ra}`, name: ra, type: 'microsoft.authorization/roleassignments',
        subscriptionId: sub, resourceGroup: '', tenantId: TENANT_ID,
        properties: { principalId: guid(0x4c000000 + k, s), principalType: k === 0 ? 'Group' : 'User', roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${CONTRIBUTOR}`,
          scope: `/subscriptions/${sub}`, createdOn: '2024-01-01T00:00:00Z', updatedOn: '2024-01-01T00:00:00Z', createdBy: guid(8, s), updatedBy: guid(8, s) },
      });
    }
  }
  return {
    resourcecontainers, resources, networkresources, authorizationresources, perimeterConfigurations, managementGroups: {}, forbiddenSubscriptions: [],
    sqlRoleAssignments, forbiddenCosmosAccounts: [],
  };
}
