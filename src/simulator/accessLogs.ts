import ipaddr from 'ipaddr.js';
import { ACCESS_LOG_COLUMNS, WOULD_BE_DENIED_CATEGORIES } from '../collect/accessLogQuery.js';
import type { Row, SimulatorResponse, SimulatorTenant } from './server.js';

/**
 * The simulator's perimeter access logs (enforcement readiness, NSP-07; AZURE-FACTS.md "Perimeter
 * access logs"): the perimeters' diagnostic settings (an ARM read) and the Log Analytics query API
 * (`POST /v1/workspaces/{customerId}/query`), answered from a model of traffic, never by running KQL.
 *
 * The answer is the project's contract — the summarised shape of src/collect/accessLogQuery.ts: one
 * row per `ServiceResourceId, Category, ResultDirection, SourceIpAddress, SourceResourceId,
 * DestinationFqdn` with `Count` (long) and `LastSeen` (datetime) — for every account whose records
 * reach the workspace (the project filters accounts itself). Each flow's category is decided at query
 * time from the live tenant (associations, access rules, the account's own network settings), so a
 * test that adds an access rule between two queries sees the category change.
 *
 * Simplifications, written down: a flow is `count` records seen together at `lastSeen` (in or out of
 * the window as a whole); only public traffic is modelled (no private-endpoint, intra-perimeter or
 * outbound-attempt categories); the Audit access mode is categorised like Learning (nothing enforced).
 */

/** One `logs` entry of a diagnostic setting: a category or a category group (e.g. `allLogs`), on or off. */
export interface DiagnosticLogSetting {
  readonly category?: string | null;
  readonly categoryGroup?: string | null;
  readonly enabled: boolean;
}

/**
 * A diagnostic setting resource on a perimeter, as ARM returns it
 * (`GET {perimeterId}/providers/Microsoft.Insights/diagnosticSettings?api-version=2021-05-01-preview`).
 * `workspaceId` is the Log Analytics workspace's resource ID (not its customer ID).
 */
export interface DiagnosticSettingResource {
  readonly id: string;
  readonly name: string;
  readonly type?: string;
  readonly properties: {
    readonly workspaceId?: string | null;
    readonly storageAccountId?: string | null;
    readonly eventHubAuthorizationRuleId?: string | null;
    readonly logs: readonly DiagnosticLogSetting[];
    readonly [key: string]: unknown;
  };
}

/**
 * A flow of public traffic of one account: `count` access-log records, the last one at `lastSeen`.
 * Give the time either absolutely (`lastSeen`, ISO 8601) or relative to the simulator's clock
 * (`lastSeenDaysAgo`, days, fractions allowed): fixtures use the relative form, so that their records
 * stay inside a 14-day window whenever the tests run.
 */
export interface TrafficFlow {
  /** The account's resource ID (the records' `ServiceResourceId`). */
  readonly account: string;
  readonly direction: 'Inbound' | 'Outbound';
  /** Inbound: the caller's public address. */
  readonly sourceIpAddress?: string;
  /** Inbound: the caller's resource ID, when Azure knows it (a VM, a function app). */
  readonly sourceResourceId?: string;
  /** Outbound: the destination host name. */
  readonly destinationFqdn?: string;
  /** Records (count, ≥ 1). */
  readonly count: number;
  /** Time of the last record, ISO 8601. */
  readonly lastSeen?: string;
  /** Time of the last record, days before the simulator's clock. Used when `lastSeen` is absent. */
  readonly lastSeenDaysAgo?: number;
}

/**
 * The access-log part of a simulated tenant (fixture file `accessLogs.json` in a tenant folder; every
 * field optional there). Arrays are read on every request, so a test may change them between queries.
 */
export interface AccessLogModel {
  /** Lower-case perimeter resource ID → its diagnostic settings. A perimeter absent here has none. */
  readonly diagnosticSettings: Record<string, DiagnosticSettingResource[]>;
  /** Workspace customer IDs (GUIDs) whose query answers 403 InsufficientAccessError. */
  readonly forbiddenWorkspaces: string[];
  /** Workspace customer IDs whose answer is partial: the rows, plus an `error` beside `tables`. */
  readonly partialWorkspaces: string[];
  /** The traffic of the tenant's accounts. */
  readonly traffic: TrafficFlow[];
}

/** The Log Analytics workspace type, as Resource Graph spells it. */
export const WORKSPACE_TYPE = 'microsoft.operationalinsights/workspaces';

/** The api-version of the diagnostic settings read (AZURE-FACTS.md). */
export const DIAGNOSTIC_SETTINGS_API_VERSION = '2021-05-01-preview';

/** The Log Analytics query route: `POST /v1/workspaces/{customerId}/query` (the SDK's endpoint plus its path). */
export const LOGS_QUERY_ROUTE = /^\/v1\/workspaces\/([^/]+)\/query$/i;

const DIAGNOSTIC_SETTINGS_ROUTE = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/networkSecurityPerimeters\/[^/]+)\/providers\/Microsoft\.Insights\/diagnosticSettings\/?$/i;
const ASSOCIATION_TYPE = 'microsoft.network/networksecurityperimeters/resourceassociations';
const ACCESS_RULE_TYPE = 'microsoft.network/networksecurityperimeters/profiles/accessrules';
const PERIMETER_TYPE = 'microsoft.network/networksecurityperimeters';
const DAY_MS = 86_400_000;

const lower = (v: unknown) => String(v ?? '').toLowerCase();
const props = (row: Row | undefined): Record<string, unknown> => (row?.properties ?? {}) as Record<string, unknown>;
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * Reads the content of a tenant's `accessLogs.json` (undefined or `{}` when the file is absent) into
 * the model: perimeter keys lower-cased, absent fields empty.
 * @throws TypeError when a traffic flow has neither `lastSeen` nor `lastSeenDaysAgo`, or a bad direction or count
 */
export function accessLogModel(raw: unknown): AccessLogModel {
  const o = (raw ?? {}) as Partial<Record<keyof AccessLogModel, unknown>>;
  const settings = (o.diagnosticSettings ?? {}) as Record<string, DiagnosticSettingResource[]>;
  const traffic = (Array.isArray(o.traffic) ? o.traffic : []) as TrafficFlow[];
  for (const [i, f] of traffic.entries()) {
    if (f.lastSeen === undefined && typeof f.lastSeenDaysAgo !== 'number') throw new TypeError(`traffic[${i}]: give lastSeen or lastSeenDaysAgo`);
    if (f.direction !== 'Inbound' && f.direction !== 'Outbound') throw new TypeError(`traffic[${i}]: direction must be Inbound or Outbound`);
    if (!Number.isInteger(f.count) || f.count < 1) throw new TypeError(`traffic[${i}]: count must be a positive integer`);
  }
  return {
    diagnosticSettings: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k.toLowerCase(), v])),
    forbiddenWorkspaces: strings(o.forbiddenWorkspaces),
    partialWorkspaces: strings(o.partialWorkspaces),
    traffic,
  };
}

/** The model of a tenant, empty where the tenant has none (generated tenants, older fixtures). */
function modelOf(tenant: SimulatorTenant): AccessLogModel {
  return {
    diagnosticSettings: tenant.diagnosticSettings ?? {},
    forbiddenWorkspaces: tenant.forbiddenWorkspaces ?? [],
    partialWorkspaces: tenant.partialWorkspaces ?? [],
    traffic: tenant.traffic ?? [],
  };
}

/**
 * `GET {perimeterId}/providers/Microsoft.Insights/diagnosticSettings`: `{ value: [...] }` (empty when
 * the perimeter has none), 404 ResourceNotFound for a perimeter not in `networkresources`. Undefined
 * for any other path. The caller has already answered 403 for a forbidden subscription.
 * @param path the decoded request path
 */
export function diagnosticSettingsAnswer(tenant: SimulatorTenant, path: string): SimulatorResponse | undefined {
  const m = DIAGNOSTIC_SETTINGS_ROUTE.exec(path);
  if (!m) return undefined;
  const perimeterId = lower(m[1]);
  const exists = tenant.networkresources.some((r) => lower(r.type) === PERIMETER_TYPE && lower(r.id) === perimeterId);
  if (!exists) {
    return { status: 404, body: { error: { code: 'ResourceNotFound', message: `The Resource '${m[1]}' was not found.` } } };
  }
  return { status: 200, body: { value: modelOf(tenant).diagnosticSettings[perimeterId] ?? [] } };
}

/** Log Analytics' error shape (`{ error: { code, message, innererror? } }`). */
function logsError(status: number, code: string, message: string, innererror?: Record<string, unknown>): SimulatorResponse {
  return { status, body: { error: { message, code, ...(innererror ? { innererror } : {}) } } };
}

/** An ISO 8601 duration (`P14D`, `PT12H`, `P1DT6H`, `P2W`) in ms; undefined when it is not one. Years and months count 365 and 30 days. */
export function durationMs(text: string): number | undefined {
  const m = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(text.trim());
  if (!m || text.trim().length <= 1 || /T$/i.test(text.trim())) return undefined;
  const [, y, mo, w, d, h, mi, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  return ((((y ?? 0) * 365 + (mo ?? 0) * 30 + (w ?? 0) * 7 + (d ?? 0)) * 24 + (h ?? 0)) * 60 + (mi ?? 0)) * 60_000 + (s ?? 0) * 1000;
}

/**
 * The window (ms since the epoch) a request's `timespan` names, in the forms the SDK sends: `duration`
 * (ending now), `start/end`, `start/duration`, `duration/end`. Absent: no limit. Undefined: not a timespan.
 */
export function timespanWindow(timespan: unknown, now: number): { from: number; to: number } | undefined {
  if (timespan === undefined || timespan === null) return { from: -Infinity, to: Infinity };
  if (typeof timespan !== 'string') return undefined;
  const parts = timespan.split('/');
  const time = (t: string) => (/^\d{4}-\d\d-\d\d/.test(t) && Number.isFinite(Date.parse(t)) ? Date.parse(t) : undefined);
  if (parts.length === 1) {
    const d = durationMs(timespan);
    return d === undefined ? undefined : { from: now - d, to: now };
  }
  if (parts.length !== 2) return undefined;
  const [a = '', b = ''] = parts;
  const [ta, tb, da, db] = [time(a), time(b), durationMs(a), durationMs(b)];
  if (ta !== undefined && tb !== undefined) return { from: ta, to: tb };
  if (ta !== undefined && db !== undefined) return { from: ta, to: ta + db };
  if (da !== undefined && tb !== undefined) return { from: tb - da, to: tb };
  return undefined;
}

/** True when `address` is inside `prefix` (a CIDR or a single address, IPv4 or IPv6); false for text that is neither. */
function addressIn(address: string, prefix: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const ip = ipaddr.parse(address);
  try {
    if (prefix.includes('/')) {
      const [range, bits] = ipaddr.parseCIDR(prefix);
      return ip.kind() === range.kind() && ip.match(range, bits);
    }
    if (!ipaddr.isValid(prefix)) return false;
    const single = ipaddr.parse(prefix);
    return single.kind() === ip.kind() && single.toNormalizedString() === ip.toNormalizedString();
  } catch {
    return false;
  }
}

/** The subscription ID (lower-case) of a resource ID, '' when it names none. */
function subscriptionOfId(id: string): string {
  return /^\/subscriptions\/([^/]+)/i.exec(id)?.[1]?.toLowerCase() ?? '';
}

/** Would an access rule of the profile admit the flow (the perimeter's own decision)? */
function perimeterAllows(flow: TrafficFlow, rules: readonly Row[]): boolean {
  return rules.some((rule) => {
    const p = props(rule);
    if (lower(p.direction) !== lower(flow.direction)) return false;
    if (flow.direction === 'Outbound') {
      return flow.destinationFqdn !== undefined && strings(p.fullyQualifiedDomainNames).some((f) => lower(f) === lower(flow.destinationFqdn));
    }
    if (flow.sourceIpAddress && strings(p.addressPrefixes).some((prefix) => addressIn(flow.sourceIpAddress as string, prefix))) return true;
    const sub = flow.sourceResourceId ? subscriptionOfId(flow.sourceResourceId) : '';
    const ruleSubs = Array.isArray(p.subscriptions) ? (p.subscriptions as Array<{ id?: unknown }>).map((s) => subscriptionOfId(String(s?.id ?? ''))) : [];
    return sub !== '' && ruleSubs.includes(sub);
  });
}

/**
 * Would the account's own settings admit the flow (the fallback of Learning mode)? Inbound: public
 * network access `Enabled` (absent = Enabled; `Disabled` and `SecuredByPerimeter` admit nothing of
 * their own) and default action Allow (absent = Allow) or the source address in an IP rule.
 * Outbound: not restricted, or the FQDN in `allowedFqdnList`.
 */
function resourceAllows(flow: TrafficFlow, account: Row | undefined): boolean {
  const p = props(account);
  if (flow.direction === 'Outbound') {
    if (p.restrictOutboundNetworkAccess !== true) return true;
    return strings(p.allowedFqdnList).some((f) => lower(f) === lower(flow.destinationFqdn));
  }
  const access = lower(p.publicNetworkAccess ?? 'Enabled');
  if (access === 'disabled' || access === 'securedbyperimeter') return false;
  const acls = (p.networkAcls ?? {}) as Record<string, unknown>;
  if (lower(acls.defaultAction ?? 'Allow') === 'allow') return true;
  const ipRules = Array.isArray(acls.ipRules) ? (acls.ipRules as Array<{ value?: unknown }>).map((r) => String(r?.value ?? '')) : [];
  return flow.sourceIpAddress !== undefined && ipRules.some((rule) => addressIn(flow.sourceIpAddress as string, rule));
}

/**
 * The `NSPAccessLogs` category a flow's records get under one association (Microsoft's "Diagnostic
 * logs for Network Security Perimeter"): allowed by a perimeter rule in any mode; otherwise denied by
 * the perimeter when Enforced, or decided by the account's own rules in Learning (and Audit) mode.
 */
export function flowCategory(flow: TrafficFlow, accessMode: string, rules: readonly Row[], account: Row | undefined): string {
  const dir = flow.direction === 'Inbound' ? 'Inbound' : 'Outbound';
  if (perimeterAllows(flow, rules)) return `NspPublic${dir}PerimeterRulesAllowed`;
  if (lower(accessMode) === 'enforced') return `NspPublic${dir}PerimeterRulesDenied`;
  return `NspPublic${dir}ResourceRules${resourceAllows(flow, account) ? 'Allowed' : 'Denied'}`;
}

/** True when a diagnostic setting collects `category` (the category itself or the `allLogs` group enabled). */
function collects(setting: DiagnosticSettingResource, category: string): boolean {
  return (setting.properties.logs ?? []).some((l) => l.enabled === true && (lower(l.categoryGroup) === 'alllogs' || lower(l.category) === lower(category)));
}

/** A row of the summarised answer, in `ACCESS_LOG_COLUMNS` order. */
export type AccessLogRow = [string, string, string, string, string, string, number, string];

/**
 * The summarised rows a workspace holds for the window: every flow of every account, under each of the
 * account's `Succeeded` associations whose perimeter has a diagnostic setting sending that flow's
 * category to the workspace, folded as the query folds (flow columns kept only for the would-be-denied
 * categories) and summed (`Count`) with the latest time (`LastSeen`). Sorted, so answers are stable.
 * @param workspaceId the workspace's resource ID
 * @param window from/to in ms since the epoch; `now` the simulator's clock (for `lastSeenDaysAgo`)
 */
export function accessLogRows(tenant: SimulatorTenant, workspaceId: string, window: { from: number; to: number }, now: number): AccessLogRow[] {
  const model = modelOf(tenant);
  const workspace = lower(workspaceId);
  const flowColumns = new Set<string>(WOULD_BE_DENIED_CATEGORIES);
  const associations = tenant.networkresources.filter((r) => lower(r.type) === ASSOCIATION_TYPE);
  const rules = tenant.networkresources.filter((r) => lower(r.type) === ACCESS_RULE_TYPE);
  const groups = new Map<string, { row: AccessLogRow; last: number }>();
  for (const flow of model.traffic) {
    const seen = flow.lastSeen !== undefined ? Date.parse(flow.lastSeen) : now - (flow.lastSeenDaysAgo ?? 0) * DAY_MS;
    if (!Number.isFinite(seen) || seen < window.from || seen > window.to) continue;
    const accountId = lower(flow.account);
    const account = tenant.resources.find((r) => lower(r.id) === accountId);
    for (const association of associations) {
      const p = props(association);
      const linked = lower((p.privateLinkResource as { id?: unknown } | undefined)?.id);
      const state = p.provisioningState === undefined || p.provisioningState === null ? 'succeeded' : lower(p.provisioningState);
      if (linked !== accountId || state !== 'succeeded') continue;
      const perimeterId = lower(association.id).replace(/\/resourceassociations\/[^/]+$/, '');
      const profileId = lower((p.profile as { id?: unknown } | undefined)?.id);
      const profileRules = rules.filter((r) => lower(r.id).startsWith(`${profileId}/accessrules/`));
      const category = flowCategory(flow, String(p.accessMode ?? 'Learning'), profileRules, account);
      const settings = model.diagnosticSettings[perimeterId] ?? [];
      if (!settings.some((s) => lower(s.properties.workspaceId) === workspace && collects(s, category))) continue;
      const keep = flowColumns.has(category);
      const row: AccessLogRow = [
        accountId,
        category,
        flow.direction,
        keep ? (flow.sourceIpAddress ?? '') : '',
        keep ? (flow.sourceResourceId ?? '') : '',
        keep ? (flow.destinationFqdn ?? '') : '',
        0,
        '',
      ];
      const key = JSON.stringify(row.slice(0, 6));
      const group = groups.get(key) ?? { row, last: -Infinity };
      group.row[6] += flow.count;
      group.last = Math.max(group.last, seen);
      groups.set(key, group);
    }
  }
  return [...groups.values()]
    .map(({ row, last }): AccessLogRow => [...row.slice(0, 7), new Date(last).toISOString()] as AccessLogRow)
    .sort((a, b) => {
      const [x, y] = [JSON.stringify(a.slice(0, 6)), JSON.stringify(b.slice(0, 6))];
      return x < y ? -1 : x > y ? 1 : 0;
    });
}

/** Column types of the summarised answer (Log Analytics type names). */
const COLUMN_TYPES: Record<(typeof ACCESS_LOG_COLUMNS)[number], string> = {
  ServiceResourceId: 'string',
  Category: 'string',
  ResultDirection: 'string',
  SourceIpAddress: 'string',
  SourceResourceId: 'string',
  DestinationFqdn: 'string',
  Count: 'long',
  LastSeen: 'datetime',
};

/**
 * `POST /v1/workspaces/{customerId}/query` with `{ query, timespan }`: 200 `{ tables: [{ name:
 * 'PrimaryResult', columns, rows }] }`, plus `error` (code `PartialError`) for a partial workspace;
 * 400 BadArgumentError for a body without a query, a query not on `NSPAccessLogs`, or a bad timespan;
 * 404 WorkspaceNotFoundError for a customer ID no workspace in `resources` has; 403
 * InsufficientAccessError for a forbidden workspace or one in a forbidden subscription.
 * @param body the parsed JSON body (undefined when it was not JSON)
 * @param now the simulator's clock (ms since the epoch)
 */
export function logsQueryAnswer(tenant: SimulatorTenant, customerId: string, body: Record<string, unknown> | undefined, now: number): SimulatorResponse {
  const model = modelOf(tenant);
  const query = typeof body?.query === 'string' ? body.query : undefined;
  if (query === undefined) return logsError(400, 'BadArgumentError', 'The request had some invalid properties', { code: 'QueryValidationError', message: 'The query property is required' });
  const table = /^\s*([A-Za-z_]\w*)/.exec(query)?.[1];
  if (table !== 'NSPAccessLogs') {
    return logsError(400, 'BadArgumentError', 'The request had some invalid properties', {
      code: 'SemanticError',
      message: `A semantic error occurred: this simulator answers queries on NSPAccessLogs only, not '${table ?? ''}'`,
    });
  }
  const window = timespanWindow(body?.timespan, now);
  if (!window) return logsError(400, 'BadArgumentError', 'The request had some invalid properties', { code: 'QueryValidationError', message: `Invalid timespan '${String(body?.timespan)}'` });
  const id = lower(customerId);
  const workspace = tenant.resources.find((r) => lower(r.type) === WORKSPACE_TYPE && lower(props(r).customerId) === id);
  if (!workspace) return logsError(404, 'WorkspaceNotFoundError', `The workspace could not be found: ${customerId}`);
  const forbiddenSub = tenant.forbiddenSubscriptions.map(lower).includes(subscriptionOfId(String(workspace.id)));
  if (forbiddenSub || model.forbiddenWorkspaces.map(lower).includes(id)) {
    return logsError(403, 'InsufficientAccessError', 'The provided credentials have insufficient access to perform the requested operation');
  }
  const rows = accessLogRows(tenant, String(workspace.id), window, now);
  const tables = [{ name: 'PrimaryResult', columns: ACCESS_LOG_COLUMNS.map((name) => ({ name, type: COLUMN_TYPES[name] })), rows }];
  if (model.partialWorkspaces.map(lower).includes(id)) {
    return {
      status: 200,
      body: {
        tables,
        error: {
          code: 'PartialError',
          message: 'There were some errors when processing your query.',
          details: [{ code: 'EngineError', message: 'Something went wrong processing your query on the server.', innererror: { code: '-2133196797', message: 'Partial query failure: Low memory condition' } }],
        },
      },
    };
  }
  return { status: 200, body: { tables } };
}
