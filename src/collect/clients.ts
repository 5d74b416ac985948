import { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import { LogsQueryClient } from '@azure/monitor-query-logs';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { ServiceClient } from '@azure/core-client';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential } from '@azure/identity';
import { lookup as dnsLookup } from 'node:dns';
import { Agent } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import { LOGS_ENDPOINTS, type LogsReader, logsReaderOf } from './accessLogs.js';
import { ArmReader } from './armReads.js';
import type { CognitiveServicesClientFactory } from './perimeterConfigurations.js';
import { ResourceGraphReader } from './resourceGraph.js';
import { newStats, type RequestStats, type ThrottleOptions, throttlingPolicy } from './throttle.js';

/**
 * The one place that creates Azure SDK clients (the composition root for collection).
 */

/** Azure clouds and their Resource Manager endpoints. */
export const CLOUDS = {
  AzureCloud: 'https://management.azure.com',
  AzureUSGovernment: 'https://management.usgovcloudapi.net',
  AzureChinaCloud: 'https://management.chinacloudapi.cn',
} as const;
export type CloudName = keyof typeof CLOUDS;

/** The Resource Graph api-version the project speaks (AZURE-FACTS.md). */
export const RESOURCE_GRAPH_API_VERSION = '2024-04-01';

/**
 * The client-side pace for Resource Graph: 15 queries per 5-second window (AZURE-FACTS.md), with
 * 150 ms of margin, because the service's window starts when the first query arrives, not when it
 * was sent; without it a query sent exactly 5 s after the window's first can arrive inside it.
 */
export const RESOURCE_GRAPH_WINDOW = { limit: 15, windowMs: 5150 } as const;

/**
 * The Cognitive Services api-version for perimeter configurations: "Be sure to use preview API
 * version 2024-10-01" (azure-openai-network-security-perimeter.md; the SDK's default is newer).
 */
export const COGNITIVE_SERVICES_API_VERSION = '2024-10-01';

/** True for `https://` URLs whose host is loopback: 127.0.0.0/8, localhost, [::1]. */
export function isLoopbackHttps(endpoint: string): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:') return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The token a local ARM simulator accepts. Not a secret: it is refused for any non-loopback endpoint. */
export const DEVELOPMENT_TOKEN = 'perimeter-auditor-development-token';

/**
 * A fixed token for an ARM simulator on loopback (ARCHITECTURE.md, "Credentials").
 * @throws Error when `endpoint` is not an https loopback URL, so the token can never leave the machine.
 */
export function developmentCredential(endpoint: string): TokenCredential {
  if (!isLoopbackHttps(endpoint)) {
    throw new Error(`the development token is only used for https loopback endpoints, not ${endpoint}`);
  }
  return {
    async getToken(): Promise<AccessToken> {
      return { token: DEVELOPMENT_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

/**
 * `DefaultAzureCredential` for real clouds (az login, managed identity, environment); the
 * development token for an https loopback simulator.
 * @param managedIdentityClientId client ID of a user-assigned managed identity (the `AZURE_CLIENT_ID`
 *   setting; infra/ sets it to the Function App's identity). Unset: a system-assigned identity or a
 *   developer's login. Source: Azure Identity, "DefaultAzureCredential" (managedIdentityClientId).
 */
export function credentialFor(endpoint: string, managedIdentityClientId?: string): TokenCredential {
  return isLoopbackHttps(endpoint) ? developmentCredential(endpoint) : azureCredential(managedIdentityClientId);
}

/**
 * `DefaultAzureCredential`, with the user-assigned managed identity `managedIdentityClientId` when
 * given (the `AZURE_CLIENT_ID` setting), for Resource Manager, Resource Graph, Blob and Queue.
 */
export function azureCredential(managedIdentityClientId?: string): TokenCredential {
  return managedIdentityClientId ? new DefaultAzureCredential({ managedIdentityClientId }) : new DefaultAzureCredential();
}

export interface AzureClientsOptions {
  /** ARM endpoint, e.g. `https://management.azure.com` or `https://127.0.0.1:8443`. */
  readonly armEndpoint: string;
  readonly credential: TokenCredential;
  /** Extra CA certificates (PEM) to trust, for a simulator when NODE_EXTRA_CA_CERTS is not set. */
  readonly caCertificates?: string;
  /** Overrides for pacing and retries (tests inject a clock). */
  readonly throttle?: ThrottleOptions;
  /** Resource Graph page size (rows, at most 1000). */
  readonly pageSize?: number;
  /**
   * Log Analytics query endpoint (NSP-07), e.g. `https://api.loganalytics.io`. Default: the cloud of
   * `armEndpoint` (`logsEndpointFor`).
   */
  readonly logsEndpoint?: string;
  /**
   * The credential for `logsEndpoint`. Default: the development token for an https loopback
   * endpoint, else `credential` when ARM is a real cloud too. When ARM is a loopback simulator and
   * the logs endpoint is not, there is no default (the development token never leaves the machine):
   * the clients then have no Logs reader and NSP-07 is `unknown`.
   */
  readonly logsCredential?: TokenCredential;
}

/**
 * The Log Analytics endpoint that goes with an ARM endpoint (AZURE-FACTS.md, "Perimeter access
 * logs"): the same cloud's; an https loopback ARM endpoint (the simulator) serves the query API
 * itself; any other endpoint gets the public cloud's.
 */
export function logsEndpointFor(armEndpoint: string): string {
  const endpoint = armEndpoint.replace(/\/+$/, '');
  if (isLoopbackHttps(endpoint)) return endpoint;
  const cloud = (Object.keys(CLOUDS) as CloudName[]).find((c) => CLOUDS[c] === endpoint);
  return LOGS_ENDPOINTS[cloud ?? 'AzureCloud'];
}

/** The clients a scan uses, and their request counters. */
export interface AzureClients {
  readonly graph: ResourceGraphReader;
  readonly cognitiveServicesFor: CognitiveServicesClientFactory;
  /** Plain ARM reads (change evaluation). */
  readonly arm: ArmReader;
  readonly graphStats: RequestStats;
  readonly armStats: RequestStats;
  /** Log Analytics queries (NSP-07); undefined when no credential fits the logs endpoint. */
  readonly logs?: LogsReader;
  readonly logsStats: RequestStats;
}

/**
 * An https agent for an endpoint whose host is an IPv6 literal (`https://[::1]:8443`). The SDK's
 * Node HTTP client passes the URL's `hostname` — with its brackets — to the socket, where the
 * address lookup fails (`getaddrinfo ENOTFOUND [::1]`) and the certificate check compares against
 * `[::1]`; this agent strips the brackets for both. Undefined for any other host.
 */
export function ipv6LiteralAgent(endpoint: string, ca?: string): Agent | undefined {
  const host = new URL(endpoint).hostname;
  if (!host.startsWith('[')) return undefined;
  const bare = (h: string) => h.replace(/^\[|\]$/g, '');
  return new Agent({
    keepAlive: true,
    ...(ca ? { ca } : {}),
    lookup: ((hostname: string, options: object, callback: never) => dnsLookup(bare(hostname), options, callback)) as never,
    checkServerIdentity: (hostname, cert) => checkServerIdentity(bare(hostname), cert),
  });
}

function clientOptions(o: AzureClientsOptions, policy: PipelinePolicy, agent: Agent | undefined) {
  // The token audience is the cloud's ARM endpoint; anything else (a simulator) uses the public one.
  const endpoint = o.armEndpoint.replace(/\/+$/, '');
  const known = Object.values(CLOUDS).find((c) => c === endpoint);
  const scope = `${known ?? CLOUDS.AzureCloud}/.default`;
  return {
    endpoint: o.armEndpoint,
    credentialScopes: [scope],
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [{ policy, position: 'perRetry' as const }],
    userAgentOptions: { userAgentPrefix: 'perimeter-auditor' },
    ...(o.caCertificates ? { tlsOptions: { ca: o.caCertificates } } : {}),
    ...(agent ? { agent } : {}),
  };
}

/** The subscription (lower-case) an ARM request is about, '' when its path names none. */
export function armSubscriptionOf(request: { readonly url: string }): string {
  return /^\/subscriptions\/([^/]+)/i.exec(new URL(request.url).pathname)?.[1]?.toLowerCase() ?? '';
}

/**
 * Creates the Resource Graph reader (paced to 15 queries per 5 s, AZURE-FACTS.md) and a factory of
 * Cognitive Services clients (one per subscription, created on first use).
 */
export function createAzureClients(o: AzureClientsOptions): AzureClients {
  const graphStats = newStats();
  const armStats = newStats();
  const agent = ipv6LiteralAgent(o.armEndpoint, o.caCertificates);
  const graphClient = new ResourceGraphClient(o.credential, {
    ...clientOptions(o, throttlingPolicy({ window: RESOURCE_GRAPH_WINDOW, ...o.throttle }, graphStats), agent),
    apiVersion: RESOURCE_GRAPH_API_VERSION,
  });
  // ARM's read limits are per subscription (AZURE-FACTS.md): a 429 slows that subscription only.
  const armPolicy = throttlingPolicy({ scopeOf: armSubscriptionOf, ...o.throttle }, armStats);
  const clients = new Map<string, CognitiveServicesManagementClient>();
  const armOptions = clientOptions(o, armPolicy, agent);
  const arm = new ArmReader(new ServiceClient({ ...armOptions, credential: o.credential }), o.armEndpoint);
  // Log Analytics: about 200 requests per 30 s per user (AZURE-FACTS.md); 429s retried by the same policy.
  const logsStats = newStats();
  const logsEndpoint = (o.logsEndpoint ?? logsEndpointFor(o.armEndpoint)).replace(/\/+$/, '');
  const logsCredential = o.logsCredential
    ?? (isLoopbackHttps(logsEndpoint) ? developmentCredential(logsEndpoint) : isLoopbackHttps(o.armEndpoint) ? undefined : o.credential);
  const knownLogs = Object.values(LOGS_ENDPOINTS).find((e) => e === logsEndpoint);
  const logs = logsCredential
    ? logsReaderOf(new LogsQueryClient(logsCredential, {
        endpoint: `${logsEndpoint}/v1`,
        credentials: { scopes: [`${knownLogs ?? LOGS_ENDPOINTS.AzureCloud}/.default`] },
        retryOptions: { maxRetries: 0 },
        additionalPolicies: [{ policy: throttlingPolicy({ window: { limit: 200, windowMs: 30_000 }, ...o.throttle }, logsStats), position: 'perRetry' }],
        userAgentOptions: { userAgentPrefix: 'perimeter-auditor' },
        ...(o.caCertificates ? { tlsOptions: { ca: o.caCertificates } } : {}),
        ...(ipv6LiteralAgent(logsEndpoint, o.caCertificates) ? { agent: ipv6LiteralAgent(logsEndpoint, o.caCertificates) } : {}),
      }))
    : undefined;
  return {
    arm,
    graph: new ResourceGraphReader(graphClient, o.pageSize ?? 1000),
    graphStats,
    armStats,
    ...(logs ? { logs } : {}),
    logsStats,
    cognitiveServicesFor(subscriptionId) {
      const key = subscriptionId.toLowerCase();
      let client = clients.get(key);
      if (!client) {
        client = new CognitiveServicesManagementClient(o.credential, subscriptionId, {
          ...armOptions,
          apiVersion: COGNITIVE_SERVICES_API_VERSION,
        });
        clients.set(key, client);
      }
      return client;
    },
  };
}
