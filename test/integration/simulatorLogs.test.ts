import assert from 'node:assert/strict';
import { LogsQueryClient, type LogsQueryPartialResult, LogsQueryResultStatus, type LogsQuerySuccessfulResult, type LogsTable } from '@azure/monitor-query-logs';
import { describe, it } from 'vitest';
import { accessLogQuery } from '../../src/collect/accessLogQuery.js';
import type { ArmReadError } from '../../src/collect/armReads.js';
import { developmentCredential } from '../../src/collect/clients.js';
import { DIAGNOSTIC_SETTINGS_API_VERSION } from '../../src/simulator/accessLogs.js';
import { generateTenant } from '../../src/simulator/generate.js';
import type { ArmSimulator, Row, SimulatorOptions, SimulatorRequest, SimulatorResponse, SimulatorTenant } from '../../src/simulator/server.js';
import { sampleTenant, simulatorArm, SUB_DEV, SUB_FORBIDDEN, SUB_PROD, withSimulator } from '../helpers/sample.js';

/**
 * The simulator's perimeter access logs (NSP-07's sources), driven through the real clients: the
 * project's ARM reader for the diagnostic settings and the workspace, and `@azure/monitor-query-logs`
 * (`LogsQueryClient.queryWorkspace`) for the Log Analytics query, with the simulator's clock fixed so
 * that no answer depends on when the test runs.
 */

const NOW = Date.parse('2026-11-21T03:00:00Z');
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW - days * DAY);

const ACCOUNTS = `/subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts`;
const ROLLOUT = `${ACCOUNTS}/oai-rollout-prod`.toLowerCase();
const READY = `${ACCOUNTS}/aisvc-ready-prod`.toLowerCase();
const NSP_ROLLOUT = `/subscriptions/${SUB_PROD}/resourceGroups/rg-network-prod/providers/Microsoft.Network/networkSecurityPerimeters/nsp-ai-rollout`;
const NSP_PROD = `/subscriptions/${SUB_PROD}/resourceGroups/rg-network-prod/providers/Microsoft.Network/networkSecurityPerimeters/nsp-ai-prod`;
const NSP_LAB = `/subscriptions/${SUB_DEV}/resourceGroups/rg-network-dev/providers/Microsoft.Network/networkSecurityPerimeters/nsp-ai-lab`;
const WS_PROD = '4d8f2a61-7b3c-4e95-a0d2-6c1e9f3b7a54';
const WS_DEV = 'b7e3c1d9-2f4a-4c68-9e05-3a7d1f6b8c20';
const VM = `/subscriptions/${SUB_DEV}/resourceGroups/rg-batch-dev/providers/Microsoft.Compute/virtualMachines/vm-batch-runner-dev`;
const WORKSPACE_API_VERSION = '2022-10-01';
const CONTRACT = [
  ['ServiceResourceId', 'string'], ['Category', 'string'], ['ResultDirection', 'string'], ['SourceIpAddress', 'string'],
  ['SourceResourceId', 'string'], ['DestinationFqdn', 'string'], ['Count', 'long'], ['LastSeen', 'datetime'],
];

/** The query NSP-07 sends for the rollout perimeter (its two Learning-mode accounts). */
const KQL = accessLogQuery({ perimeterIds: [NSP_ROLLOUT], accountIds: [ROLLOUT, READY], windowDays: 14 });

function logsClient(sim: ArmSimulator, maxRetries?: number): LogsQueryClient {
  return new LogsQueryClient(developmentCredential(sim.url), {
    endpoint: `${sim.url}/v1`,
    tlsOptions: { ca: sim.caCertificate },
    ...(maxRetries === undefined ? {} : { retryOptions: { maxRetries } }),
  });
}

/** Runs `fn` against the sample tenant (or `tenant`) with the clock at NOW. */
async function withLogs<T>(o: Partial<SimulatorOptions>, fn: (sim: ArmSimulator) => Promise<T>): Promise<T> {
  return withSimulator({ now: () => NOW, ...o }, fn);
}

/** The rows of an answer's first table as objects keyed by column name. */
function records(table: LogsTable | undefined): Array<Record<string, unknown>> {
  assert.ok(table, 'a table');
  return table.rows.map((row) => Object.fromEntries(table.columnDescriptors.map((c, i) => [c.name ?? '', row[i]])));
}

function success(result: Awaited<ReturnType<LogsQueryClient['queryWorkspace']>>): LogsQuerySuccessfulResult {
  assert.equal(result.status, LogsQueryResultStatus.Success);
  return result as LogsQuerySuccessfulResult;
}

/** A compact view of a row: category, direction, the flow columns, count, days before NOW. */
function view(r: Record<string, unknown>): string {
  const days = (NOW - (r.LastSeen as Date).getTime()) / DAY;
  return [r.Category, r.ResultDirection, r.SourceIpAddress, r.SourceResourceId, r.DestinationFqdn, r.Count, days].join(' | ');
}

describe('simulator: perimeter access logs', () => {
  it('finds the workspace through the diagnostic settings and answers the contract, categorised from the model', async () => {
    const seen: SimulatorRequest[] = [];
    await withLogs({ fault: (r) => void (r.kind === 'logs' && seen.push(r)) }, async (sim) => {
      const arm = simulatorArm(sim);
      const settings = (await arm.list(`${NSP_ROLLOUT}/providers/Microsoft.Insights/diagnosticSettings`, DIAGNOSTIC_SETTINGS_API_VERSION)) as Array<{ properties: { workspaceId: string } }>;
      assert.equal(settings.length, 1);
      const workspace = (await arm.get(settings[0]?.properties.workspaceId ?? '', WORKSPACE_API_VERSION)) as { properties: { customerId: string } };
      assert.equal(workspace.properties.customerId, WS_PROD);

      const result = success(await logsClient(sim).queryWorkspace(WS_PROD, KQL, { duration: 'P14D' }));
      // What the SDK sent: POST {endpoint}/workspaces/{customerId}/query with { query, timespan }.
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.method, 'POST');
      assert.equal(seen[0]?.path, `/v1/workspaces/${WS_PROD}/query`);
      assert.deepEqual(seen[0]?.body, { query: KQL, timespan: 'P14D' });
      assert.equal(sim.stats.logsRequests, 1);

      assert.equal(result.tables.length, 1);
      assert.equal(result.tables[0]?.name, 'PrimaryResult');
      assert.deepEqual(result.tables[0]?.columnDescriptors.map((c) => [c.name, c.type]), CONTRACT);
      const rows = records(result.tables[0]);
      assert.ok(rows.every((r) => typeof r.Count === 'number' && r.LastSeen instanceof Date), 'Count is a number, LastSeen a Date (the SDK converts datetime)');
      // The rollout account (Learning, resource rules open): would-be-denied flows keep their columns;
      // perimeter-allowed traffic is folded to one row per category and direction; the 30-day-old flow is outside the window.
      assert.deepEqual(rows.filter((r) => r.ServiceResourceId === ROLLOUT).map(view), [
        'NspPublicInboundPerimeterRulesAllowed | Inbound |  |  |  | 120 | 0.5',
        'NspPublicInboundResourceRulesAllowed | Inbound |  | ' + VM + ' |  | 12 | 2',
        'NspPublicInboundResourceRulesAllowed | Inbound | 198.51.100.7 |  |  | 3 | 6',
        'NspPublicInboundResourceRulesAllowed | Inbound | 203.0.113.10 |  |  | 42 | 1',
        'NspPublicInboundResourceRulesAllowed | Inbound | 203.0.113.11 |  |  | 7 | 3',
        'NspPublicOutboundPerimeterRulesAllowed | Outbound |  |  |  | 64 | 0.25',
        'NspPublicOutboundResourceRulesAllowed | Outbound |  |  | <script>alert(1)</script> | 1 | 4',
        'NspPublicOutboundResourceRulesAllowed | Outbound |  |  | =cmd|\' /C calc\'!A0 | 1 | 5',
        'NspPublicOutboundResourceRulesAllowed | Outbound |  |  | api.partner.example | 20 | 1',
      ]);
      // The ready account: everything allowed by the perimeter's rules (address prefix, subscription, FQDN), summed per category.
      assert.deepEqual(rows.filter((r) => r.ServiceResourceId === READY).map(view), [
        'NspPublicInboundPerimeterRulesAllowed | Inbound |  |  |  | 45 | 1',
        'NspPublicOutboundPerimeterRulesAllowed | Outbound |  |  |  | 25 | 1',
      ]);
      assert.deepEqual(new Set(rows.map((r) => r.ServiceResourceId)), new Set([ROLLOUT, READY]), 'no other perimeter logs to this workspace');
    });
  });

  it('categorises from the live model: a perimeter rule added between two queries turns resource-allowed flows into perimeter-allowed ones', async () => {
    const tenant = await sampleTenant();
    await withLogs({ tenant }, async (sim) => {
      const client = logsClient(sim);
      const before = records(success(await client.queryWorkspace(WS_PROD, KQL, { duration: 'P14D' })).tables[0]);
      assert.ok(before.some((r) => r.SourceIpAddress === '203.0.113.10' && r.Category === 'NspPublicInboundResourceRulesAllowed'));
      const profile = `${NSP_ROLLOUT}/profiles/rollout-profile`;
      const rule: Row = {
        id: `${profile}/accessRules/allow-office`,
        name: 'allow-office',
        type: 'microsoft.network/networksecurityperimeters/profiles/accessrules',
        subscriptionId: SUB_PROD,
        properties: { direction: 'Inbound', addressPrefixes: ['203.0.113.0/28'], provisioningState: 'Succeeded' },
      };
      tenant.networkresources.push(rule);
      const after = records(success(await client.queryWorkspace(WS_PROD, KQL, { duration: 'P14D' })).tables[0]);
      assert.ok(!after.some((r) => r.SourceIpAddress === '203.0.113.10' || r.SourceIpAddress === '203.0.113.11'), 'the flows left the would-be-denied rows');
      const folded = after.find((r) => r.ServiceResourceId === ROLLOUT && r.Category === 'NspPublicInboundPerimeterRulesAllowed');
      assert.equal(folded?.Count, 120 + 42 + 7);
      assert.ok(after.some((r) => r.SourceIpAddress === '198.51.100.7'), 'an address outside the new rule is still would-be-denied');
    });
  });

  it('the window is the request\'s timespan, on the simulator\'s clock', async () => {
    await withLogs({}, async (sim) => {
      const client = logsClient(sim);
      const recent = records(success(await client.queryWorkspace(WS_PROD, KQL, { duration: 'PT36H' })).tables[0]);
      assert.deepEqual(recent.filter((r) => r.ServiceResourceId === ROLLOUT).map(view), [
        'NspPublicInboundPerimeterRulesAllowed | Inbound |  |  |  | 120 | 0.5',
        'NspPublicInboundResourceRulesAllowed | Inbound | 203.0.113.10 |  |  | 42 | 1',
        'NspPublicOutboundPerimeterRulesAllowed | Outbound |  |  |  | 64 | 0.25',
        'NspPublicOutboundResourceRulesAllowed | Outbound |  |  | api.partner.example | 20 | 1',
      ]);
      const old = records(success(await client.queryWorkspace(WS_PROD, KQL, { startTime: ago(40), endTime: ago(20) })).tables[0]);
      assert.deepEqual(old.map(view), ['NspPublicInboundResourceRulesAllowed | Inbound | 203.0.113.99 |  |  | 5 | 30']);
    });
  });

  it('403 for a forbidden workspace, 404 for an unknown one, 400 for a query not on NSPAccessLogs', async () => {
    await withLogs({}, async (sim) => {
      const client = logsClient(sim, 0);
      await assert.rejects(client.queryWorkspace(WS_DEV, KQL, { duration: 'P14D' }), (e: { statusCode?: number; code?: string }) => e.statusCode === 403 && e.code === 'InsufficientAccessError');
      await assert.rejects(client.queryWorkspace('00000000-0000-4000-8000-000000000000', KQL, { duration: 'P14D' }), (e: { statusCode?: number; code?: string }) => e.statusCode === 404 && e.code === 'WorkspaceNotFoundError');
      await assert.rejects(client.queryWorkspace(WS_PROD, 'AzureActivity | take 1', { duration: 'P14D' }), (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'BadArgumentError');
      // The forbidden workspace is still readable over ARM (the refusal is the query API's).
      const arm = simulatorArm(sim);
      const settings = (await arm.list(`${NSP_LAB}/providers/Microsoft.Insights/diagnosticSettings`, DIAGNOSTIC_SETTINGS_API_VERSION)) as Array<{ properties: { workspaceId: string } }>;
      const workspace = (await arm.get(settings[0]?.properties.workspaceId ?? '', WORKSPACE_API_VERSION)) as { properties: { customerId: string } };
      assert.equal(workspace.properties.customerId, WS_DEV);
    });
  });

  it('a partial workspace answers its rows with an error beside the tables: the SDK reports PartialFailure', async () => {
    const tenant: SimulatorTenant = { ...(await sampleTenant()), partialWorkspaces: [WS_PROD] };
    await withLogs({ tenant }, async (sim) => {
      const result = await logsClient(sim).queryWorkspace(WS_PROD, KQL, { duration: 'P14D' });
      assert.equal(result.status, LogsQueryResultStatus.PartialFailure);
      const partial = result as LogsQueryPartialResult;
      assert.equal(partial.partialError.code, 'PartialError');
      assert.ok(records(partial.partialTables[0]).some((r) => r.ServiceResourceId === ROLLOUT && r.DestinationFqdn === 'api.partner.example'));
    });
  });

  it('faults on the query route: a 429 with Retry-After is retried by the SDK; without it, or after a reset, the error reaches the caller', async () => {
    const throttled = { error: { code: 'ThrottledError', message: 'Your request was throttled.' } };
    let script: Array<SimulatorResponse | undefined> = [];
    await withLogs({ fault: (r) => (r.kind === 'logs' ? script[r.sequence - 1] : undefined) }, async (sim) => {
      script = [{ status: 429, headers: { 'retry-after': '0' }, body: throttled }];
      success(await logsClient(sim).queryWorkspace(WS_PROD, KQL, { duration: 'P14D' }));
      assert.equal(sim.stats.logsRequests, 2, 'the SDK retried the 429 once, after the Retry-After of 0 s');
      assert.equal(sim.stats.throttled, 1);

      script[2] = { status: 429, body: throttled };
      await assert.rejects(logsClient(sim).queryWorkspace(WS_PROD, KQL, { duration: 'P14D' }), (e: { statusCode?: number; code?: string }) => e.statusCode === 429 && e.code === 'ThrottledError');
      assert.equal(sim.stats.logsRequests, 3, 'a 429 without Retry-After is not retried by the SDK');

      // An error answer without Log Analytics' JSON error body (a proxy's page, an empty 429): the SDK's
      // error deserializer fails on it, so the caller gets a TypeError, not a RestError with a status.
      script[3] = { status: 429 };
      await assert.rejects(logsClient(sim).queryWorkspace(WS_PROD, KQL, { duration: 'P14D' }), (e: Error & { statusCode?: number }) => e instanceof TypeError && e.statusCode === undefined);
      assert.equal(sim.stats.logsRequests, 4);

      script[4] = { status: 200, reset: true };
      await assert.rejects(logsClient(sim, 0).queryWorkspace(WS_PROD, KQL, { duration: 'P14D' }), (e: { code?: string }) => e.code === 'ECONNRESET');
      assert.equal(sim.stats.logsRequests, 5);
      assert.equal(sim.stats.graphRequests, 0);
    });
  });

  it('diagnostic settings: the perimeter\'s list, empty for a perimeter without, 404 for no perimeter, 403 in a forbidden subscription', async () => {
    await withLogs({}, async (sim) => {
      const arm = simulatorArm(sim);
      const path = (perimeter: string) => `${perimeter}/providers/Microsoft.Insights/diagnosticSettings`;
      type Setting = { id: string; name: string; properties: { workspaceId: string; logs: unknown[] } };
      const [rollout] = (await arm.list(path(NSP_ROLLOUT), DIAGNOSTIC_SETTINGS_API_VERSION)) as Setting[];
      assert.equal(rollout?.name, 'nsp-ai-rollout-logs');
      assert.match(rollout?.properties.workspaceId ?? '', /\/Microsoft\.OperationalInsights\/workspaces\/log-nsp-prod$/);
      assert.deepEqual(rollout?.properties.logs, [{ category: null, categoryGroup: 'allLogs', enabled: true }]);
      assert.deepEqual(await arm.list(path(NSP_PROD), DIAGNOSTIC_SETTINGS_API_VERSION), []);
      // ARM's own not-found answer (the reader takes only ResourceNotFound as "absent").
      assert.equal(await arm.get(path(NSP_PROD.replace('nsp-ai-prod', 'nsp-gone')), DIAGNOSTIC_SETTINGS_API_VERSION), undefined);
      const forbidden = path(NSP_PROD.replace(SUB_PROD, SUB_FORBIDDEN));
      await assert.rejects(arm.list(forbidden, DIAGNOSTIC_SETTINGS_API_VERSION), (e: ArmReadError) => e.statusCode === 403);
    });
    // A generated tenant has no access-log model: its perimeters have no settings, and no workspace answers.
    const tenant = generateTenant({ accounts: 10, subscriptions: 1 });
    await withLogs({ tenant }, async (sim) => {
      const perimeter = String(tenant.networkresources.find((r) => r.type === 'microsoft.network/networksecurityperimeters')?.id);
      assert.deepEqual(await simulatorArm(sim).list(`${perimeter}/providers/Microsoft.Insights/diagnosticSettings`, DIAGNOSTIC_SETTINGS_API_VERSION), []);
      await assert.rejects(logsClient(sim, 0).queryWorkspace(WS_PROD, KQL, { duration: 'P14D' }), (e: { statusCode?: number }) => e.statusCode === 404);
    });
  });
});
