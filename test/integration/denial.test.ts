import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { collectContext, ScanSetupError } from '../../src/collect/collector.js';
import { simulatorGraph, SUB_DEV, SUB_FORBIDDEN, SUB_PROD, withSimulator } from '../helpers/sample.js';
import type { SimulatorRequest, SimulatorResponse } from '../../src/simulator/server.js';

/**
 * A subscription is "refused" (unreadable, split out of its batch) when Resource Graph answers 401
 * or 403: the collector reads the answer's status, never the text of the error, which may quote
 * anything (here a 500 whose message says "HTTP 403").
 */

const TENANT = { subscriptions: [], managementGroups: [] };
const log = () => {};

const graphOf = simulatorGraph;

/** A server error whose text looks like a refusal. */
const MISLEADING_500: SimulatorResponse = { status: 500, body: { error: { code: 'InternalServerError', message: 'upstream answered HTTP 403 Forbidden' } } };
const REFUSAL: SimulatorResponse = { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'The client does not have authorization' } } };

const subscriptions = (r: SimulatorRequest) => ((r.body?.subscriptions ?? []) as string[]).map((s) => s.toLowerCase());
const isQueryOf = (r: SimulatorRequest, type: string) => r.kind === 'graph' && String(r.body?.query).includes(type);

describe('denial by status code, not by the text of an error', () => {
  it('the planner\'s probe: a 403 makes a subscription unreadable; a 500 that says "HTTP 403" is a failed table read', async () => {
    // The sample tenant refuses SUB_FORBIDDEN with a real 403; the batch holding it is split, and the
    // half holding the production and dev subscriptions gets the misleading 500.
    const fault = (r: SimulatorRequest) =>
      isQueryOf(r, 'microsoft.storage/storageaccounts') && subscriptions(r).includes(SUB_DEV) && !subscriptions(r).includes(SUB_FORBIDDEN) ? MISLEADING_500 : undefined;
    const { subscriptions: coverage, tables } = await withSimulator({ fault }, (sim) => collectContext(graphOf(sim), TENANT, log));
    const status = Object.fromEntries(coverage.map((s) => [s.id, s.status]));
    assert.deepEqual(status, { [SUB_PROD]: 'read', [SUB_DEV]: 'read', [SUB_FORBIDDEN]: 'unreadable' });
    assert.match(coverage.find((s) => s.id === SUB_FORBIDDEN)?.reason ?? '', /^HTTP 403 AuthorizationFailed/);
    assert.match(tables.storageAccounts.failure ?? '', /HTTP 500 InternalServerError: upstream answered HTTP 403/);
  });

  it('named subscriptions: a 403 makes them unreadable; a 500 that says "HTTP 403" means they could not be listed', async () => {
    const scope = { subscriptions: [SUB_PROD], managementGroups: [] };
    const listing = (answer: SimulatorResponse) => (r: SimulatorRequest) => (isQueryOf(r, 'microsoft.resources/subscriptions') ? answer : undefined);
    const refused = await withSimulator({ fault: listing(REFUSAL) }, (sim) => collectContext(graphOf(sim), scope, log)).catch((e: unknown) => e);
    assert.ok(refused instanceof ScanSetupError);
    assert.match(refused.message, new RegExp(`^no subscription could be read: 0 of 1 in scope, so no account was read \\(${SUB_PROD}: HTTP 403 AuthorizationFailed`));
    const failed = await withSimulator({ fault: listing(MISLEADING_500) }, (sim) => collectContext(graphOf(sim), scope, log)).catch((e: unknown) => e);
    assert.ok(failed instanceof ScanSetupError);
    assert.match(failed.message, /^cannot list subscriptions: HTTP 500 InternalServerError: upstream answered HTTP 403 Forbidden$/);
  });
});
