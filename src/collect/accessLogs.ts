import type { LogsQueryClient } from '@azure/monitor-query-logs';
import pLimit from 'p-limit';
import { z } from 'zod';
import { LEARNING_STRENGTH, modeStrength } from '../domain/accessMode.js';
import { idKey } from '../domain/resourceId.js';
import type { AccessLogFlow, AccessLogReading, PerimeterAssociation } from '../domain/snapshot.js';
import { accessLogQuery, ACCESS_LOG_COLUMNS, WOULD_BE_DENIED_CATEGORIES } from './accessLogQuery.js';
import { AnswerShapeError } from './answers.js';
import type { ArmReader } from './armReads.js';
import { describeError } from './resourceGraph.js';

/**
 * Enforcement readiness (NSP-07), the collection step: for the accounts whose perimeter association
 * is in Learning mode, where the perimeter's access logs go and what they say.
 *
 * 1. Each perimeter's diagnostic settings (ARM, `GET {perimeterId}/providers/Microsoft.Insights/diagnosticSettings`,
 *    AZURE-FACTS.md "Perimeter access logs"): the Log Analytics workspaces that receive both
 *    would-be-denied categories (by name or through the `allLogs` category group).
 * 2. Each workspace's customer ID (ARM GET of the workspace, `properties.customerId`): the query API
 *    takes it, not the resource ID.
 * 3. One query per workspace (accessLogQuery.ts) for all its Learning-mode accounts at once, through
 *    `@azure/monitor-query-logs`. The answer is checked for the contract's columns; rows of accounts
 *    that were not asked for are dropped here (the account filter is never trusted to the server).
 *
 * Nothing here throws for one perimeter or workspace: each failure becomes the reason the readings
 * of the accounts it concerns are incomplete.
 */

/** Log Analytics query endpoints per cloud (AZURE-FACTS.md); the token scope is `{endpoint}/.default`. */
export const LOGS_ENDPOINTS = {
  AzureCloud: 'https://api.loganalytics.io',
  AzureUSGovernment: 'https://api.loganalytics.us',
  AzureChinaCloud: 'https://api.loganalytics.azure.cn',
} as const;

/** The api-version of the diagnostic settings read (AZURE-FACTS.md). */
export const DIAGNOSTIC_SETTINGS_API_VERSION = '2021-05-01-preview';

/** The api-version of the Log Analytics workspace read (`Microsoft.OperationalInsights/workspaces`). */
export const WORKSPACES_API_VERSION = '2023-09-01';

/**
 * Most ARM reads (diagnostic settings, workspaces) and Log Analytics queries in flight (counts). The
 * perimeters spread over many subscriptions and ARM's read limits are per subscription (the ARM
 * client's policy paces each subscription on its own 429s), so 32 reads go at once.
 */
const ARM_READS_IN_FLIGHT = 32;
const QUERIES_IN_FLIGHT = 4;

export type { AccessLogFlow, AccessLogReading } from '../domain/snapshot.js';

/** An account to read, and the perimeters of its `Succeeded` Learning-mode associations. */
export interface ReadinessTarget {
  readonly accountId: string;
  readonly perimeterIds: readonly string[];
}

/** Runs one Log Analytics query; the Logs client of `clients.ts`. */
export interface LogsReader {
  /** Queries made (count). */
  requests: number;
  /**
   * @param customerId the workspace's customer ID (GUID)
   * @returns the first table's rows as objects keyed by column name, and why the result is partial, if it is
   * @throws the SDK's error (a failed query), or AnswerShapeError when the answer has no table with the contract's columns
   */
  query(customerId: string, kql: string, windowDays: number): Promise<{ rows: Record<string, unknown>[]; partial?: string }>;
}

/** A `LogsReader` on `@azure/monitor-query-logs`. */
export function logsReaderOf(client: LogsQueryClient): LogsReader {
  const reader: LogsReader = {
    requests: 0,
    async query(customerId, kql, windowDays) {
      reader.requests += 1;
      const result = await client.queryWorkspace(customerId, kql, { duration: `P${windowDays}D` });
      const partial = result.status === 'PartialFailure';
      const tables = partial ? result.partialTables : result.tables;
      const table = tables?.[0];
      if (!table || !Array.isArray(table.columnDescriptors) || !Array.isArray(table.rows))
        throw new AnswerShapeError('the Log Analytics answer has no result table');
      const names = table.columnDescriptors.map((c) => String(c.name ?? ''));
      const missing = ACCESS_LOG_COLUMNS.filter((c) => !names.includes(c));
      if (missing.length > 0) throw new AnswerShapeError(`the Log Analytics answer lacks the column(s) ${missing.join(', ')}`);
      const rows = table.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, Array.isArray(row) ? row[i] : undefined])));
      return partial
        ? { rows, partial: `partial result (${result.partialError?.code ?? 'error'}: ${String(result.partialError?.message ?? '').slice(0, 200)})` }
        : { rows };
    },
  };
  return reader;
}

/**
 * The accounts whose effective access mode is Learning (RULES.md, "Perimeter facts": the strongest
 * mode of the `Succeeded` associations), with the perimeters of their Learning-mode associations.
 * @param associations every association read (normalized: defaults applied, e.g. absent state = Succeeded)
 * @param inScope whether an account (resource ID) is in the scan's scope
 */
export function readinessTargets(associations: Iterable<PerimeterAssociation>, inScope: (accountId: string) => boolean): ReadinessTarget[] {
  const byAccount = new Map<string, { accountId: string; modes: Array<{ mode: string; perimeterId: string }> }>();
  for (const a of associations) {
    if (a.provisioningState.toLowerCase() !== 'succeeded') continue;
    if (!/\/providers\/microsoft\.cognitiveservices\/accounts\/[^/]+$/i.test(a.resourceId) || !inScope(a.resourceId)) continue;
    const key = idKey(a.resourceId);
    const entry = byAccount.get(key) ?? { accountId: a.resourceId, modes: [] };
    entry.modes.push({ mode: a.accessMode, perimeterId: a.perimeterId });
    byAccount.set(key, entry);
  }
  const targets: ReadinessTarget[] = [];
  for (const { accountId, modes } of byAccount.values()) {
    const strongest = Math.max(...modes.map((m) => modeStrength(m.mode)));
    if (strongest !== LEARNING_STRENGTH) continue;
    const learning = modes.filter((m) => modeStrength(m.mode) === LEARNING_STRENGTH);
    const perimeterIds = [...new Map(learning.map((m) => [idKey(m.perimeterId), m.perimeterId])).values()];
    targets.push({ accountId, perimeterIds });
  }
  return targets;
}

const DiagnosticSettingSchema = z.looseObject({
  properties: z.looseObject({
    workspaceId: z.string().nullish(),
    logs: z.array(z.looseObject({ category: z.string().nullish(), categoryGroup: z.string().nullish(), enabled: z.boolean().nullish() })).nullish(),
  }),
});

/**
 * The workspaces (resource IDs) a perimeter's diagnostic settings send both would-be-denied
 * categories to (by name, or the `allLogs` group). A setting of another shape counts for nothing.
 */
export function workspacesOf(settings: readonly unknown[]): string[] {
  const out = new Map<string, string>();
  for (const raw of settings) {
    const s = DiagnosticSettingSchema.safeParse(raw);
    if (!s.success || !s.data.properties.workspaceId) continue;
    const enabled = (s.data.properties.logs ?? []).filter((l) => l.enabled === true);
    const has = (category: string) => enabled.some((l) => l.categoryGroup?.toLowerCase() === 'alllogs' || l.category?.toLowerCase() === category.toLowerCase());
    if (WOULD_BE_DENIED_CATEGORIES.every(has)) out.set(idKey(s.data.properties.workspaceId), s.data.properties.workspaceId);
  }
  return [...out.values()];
}

/** One account's records (count) and would-be-denied flows in one workspace's answer. */
interface AccountLogs {
  records: number;
  flows: AccessLogFlow[];
}

/** What a workspace query gave: per account (lower-case ID) its logs, or why it could not be read. */
type WorkspaceResult
  = | { readonly ok: true; readonly partial?: string; readonly byAccount: Map<string, AccountLogs> }
    | { readonly ok: false; readonly reason: string };

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * Rows of the contract shape → per account records and would-be-denied flows, for the accounts asked only.
 * @throws AnswerShapeError for a row whose `Count` is not a non-negative number or whose account is not text
 */
export function summariseRows(rows: readonly Record<string, unknown>[], accounts: ReadonlySet<string>): Map<string, AccountLogs> {
  const out = new Map<string, AccountLogs>();
  const denied = new Set<string>(WOULD_BE_DENIED_CATEGORIES.map((c) => c.toLowerCase()));
  for (const row of rows) {
    const account = row.ServiceResourceId;
    const count = typeof row.Count === 'string' ? Number(row.Count) : row.Count;
    if (typeof account !== 'string' || typeof count !== 'number' || !Number.isFinite(count) || count < 0)
      throw new AnswerShapeError('a Log Analytics row has no account or no record count');
    const key = idKey(account);
    if (!accounts.has(key)) continue;
    const entry = out.get(key) ?? { records: 0, flows: [] };
    entry.records += count;
    const category = text(row.Category);
    if (denied.has(category.toLowerCase())) {
      const last = row.LastSeen instanceof Date ? row.LastSeen.toISOString() : text(row.LastSeen);
      entry.flows.push({
        direction: text(row.ResultDirection),
        category,
        sourceIpAddress: text(row.SourceIpAddress),
        sourceResourceId: text(row.SourceResourceId),
        destinationFqdn: text(row.DestinationFqdn),
        count,
        lastSeen: last,
      });
    }
    out.set(key, entry);
  }
  for (const entry of out.values()) entry.flows.sort((a, b) => b.count - a.count || b.lastSeen.localeCompare(a.lastSeen));
  return out;
}

/**
 * Reads the access logs of `targets` (see the module's comment).
 * @param o.windowDays the window (days, 1–90; RULES.md `readinessWindowDays`)
 * @returns lower-case account ID → its reading, for every target
 */
export async function collectAccessLogs(
  targets: readonly ReadinessTarget[],
  o: { arm: ArmReader; logs: LogsReader | undefined; windowDays: number; log?: (line: string) => void },
): Promise<Map<string, AccessLogReading>> {
  const readings = new Map<string, AccessLogReading>();
  if (targets.length === 0) return readings;
  const arm = pLimit(ARM_READS_IN_FLIGHT);

  // 1. Each perimeter's workspaces.
  const perimeters = new Map<string, string>();
  for (const t of targets) for (const p of t.perimeterIds) perimeters.set(idKey(p), p);
  const destinations = new Map<string, { ok: true; workspaces: string[] } | { ok: false; reason: string }>();
  await Promise.all([...perimeters].map(([key, id]) => arm(async () => {
    try {
      const settings = await o.arm.list(`${id}/providers/Microsoft.Insights/diagnosticSettings`, DIAGNOSTIC_SETTINGS_API_VERSION);
      destinations.set(key, { ok: true, workspaces: workspacesOf(settings) });
    } catch (error) {
      destinations.set(key, { ok: false, reason: `the diagnostic settings of perimeter ${id} could not be read: ${describeError(error).message}` });
    }
  })));

  // 2. Each workspace's customer ID.
  const workspaces = new Map<string, string>();
  for (const d of destinations.values()) if (d.ok) for (const w of d.workspaces) workspaces.set(idKey(w), w);
  const customerIds = new Map<string, { ok: true; customerId: string } | { ok: false; reason: string }>();
  await Promise.all([...workspaces].map(([key, id]) => arm(async () => {
    try {
      const body = await o.arm.get(id, WORKSPACES_API_VERSION);
      const customerId = (body as { properties?: { customerId?: unknown } } | undefined)?.properties?.customerId;
      if (body === undefined) customerIds.set(key, { ok: false, reason: `Log Analytics workspace ${id} was not found` });
      else if (typeof customerId !== 'string' || customerId === '') customerIds.set(key, { ok: false, reason: `Log Analytics workspace ${id} has no customerId` });
      else customerIds.set(key, { ok: true, customerId });
    } catch (error) {
      customerIds.set(key, { ok: false, reason: `Log Analytics workspace ${id} could not be read: ${describeError(error).message}` });
    }
  })));

  // 3. One query per workspace, for the accounts whose Learning-mode perimeters send to it.
  const results = new Map<string, WorkspaceResult>();
  const queries = pLimit(QUERIES_IN_FLIGHT);
  await Promise.all([...workspaces].map(([key, id]) => queries(async () => {
    const customer = customerIds.get(key);
    if (!customer?.ok) {
      results.set(key, { ok: false, reason: customer?.reason ?? `Log Analytics workspace ${id} could not be read` });
      return;
    }
    if (!o.logs) {
      results.set(key, { ok: false, reason: 'no Log Analytics client (the logs endpoint needs a credential of its own)' });
      return;
    }
    const sending = [...destinations].filter(([, d]) => d.ok && d.workspaces.some((w) => idKey(w) === key)).map(([p]) => perimeters.get(p) ?? p);
    const sendingKeys = new Set(sending.map(idKey));
    const accounts = targets.filter((t) => t.perimeterIds.some((p) => sendingKeys.has(idKey(p)))).map((t) => t.accountId);
    try {
      const kql = accessLogQuery({ perimeterIds: sending, accountIds: accounts, windowDays: o.windowDays });
      const answer = await o.logs.query(customer.customerId, kql, o.windowDays);
      const byAccount = summariseRows(answer.rows, new Set(accounts.map(idKey)));
      results.set(key, { ok: true, byAccount, ...(answer.partial ? { partial: `Log Analytics workspace ${id}: ${answer.partial}` } : {}) });
    } catch (error) {
      results.set(key, { ok: false, reason: `the access logs in Log Analytics workspace ${id} could not be queried: ${describeError(error).message}` });
    }
  })));

  // Per account: its perimeters' destinations and their workspaces' results.
  for (const t of targets) {
    const reasons: string[] = [];
    const read: string[] = [];
    let records = 0;
    const flows: AccessLogFlow[] = [];
    let anyDestination = false;
    for (const p of t.perimeterIds) {
      const d = destinations.get(idKey(p));
      if (!d) continue;
      if (!d.ok) {
        reasons.push(d.reason);
        continue;
      }
      if (d.workspaces.length === 0) {
        reasons.push(`perimeter ${p} sends its access logs to no Log Analytics workspace`);
        continue;
      }
      anyDestination = true;
      for (const w of d.workspaces) {
        if (read.some((r) => idKey(r) === idKey(w))) continue;
        const r = results.get(idKey(w));
        if (!r) continue;
        if (!r.ok) {
          reasons.push(r.reason);
          continue;
        }
        if (r.partial) reasons.push(r.partial);
        read.push(w);
        const mine = r.byAccount.get(idKey(t.accountId));
        if (mine) {
          records += mine.records;
          flows.push(...mine.flows);
        }
      }
    }
    const everyNoDestination = !anyDestination && t.perimeterIds.every((p) => {
      const d = destinations.get(idKey(p));
      return d?.ok === true && d.workspaces.length === 0;
    });
    if (everyNoDestination) {
      readings.set(idKey(t.accountId), {
        status: 'no-destination',
        windowDays: o.windowDays,
        reason: `no diagnostic setting of perimeter ${t.perimeterIds.join(', ')} sends ${WOULD_BE_DENIED_CATEGORIES.join(' and ')} (or allLogs) to a Log Analytics workspace`,
      });
      continue;
    }
    flows.sort((a, b) => b.count - a.count || b.lastSeen.localeCompare(a.lastSeen));
    readings.set(idKey(t.accountId), {
      status: reasons.length === 0 ? 'read' : 'incomplete',
      windowDays: o.windowDays,
      workspaces: read,
      records,
      flows,
      ...(reasons.length === 0 ? {} : { reason: [...new Set(reasons)].join('; ') }),
    });
  }
  o.log?.(`access logs: ${targets.length} Learning-mode account(s), ${perimeters.size} perimeter(s), ${workspaces.size} workspace(s) queried`);
  return readings;
}
