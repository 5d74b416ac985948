import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { collectContext } from '../../src/collect/collector.js';
import { TABLES } from '../../src/collect/inventory.js';
import { GraphQueryError, tableQuery } from '../../src/collect/resourceGraph.js';
import { parsePolicyText } from '../../src/config/policy.js';
import type { Row, SimulatorRequest, SimulatorTenant } from '../../src/simulator/server.js';
import { finding, sampleTenant, scanSimulator, simulatorGraph, SUB_DEV, SUB_FORBIDDEN, SUB_PROD, withSimulator } from '../helpers/sample.js';

/**
 * Issue 17: the role-assignment table is read once. The per-subscription batches read the
 * subscriptions in scope; the scope-level read (at each named management group, or the tenant) reads
 * only what they did not: the assignments of no subscription (management-group or root scope) and
 * those of the scope's subscriptions left out of the batches (excluded by the policy, unreadable).
 */

const ROLE_ASSIGNMENTS = TABLES.roleAssignments.type;
const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
/** oai-chat-prod's system-assigned identity (sample tenant). */
const CHAT_PRINCIPAL = '00000001-1111-4222-8333-444455556666';
const MG_ASSIGNMENT = '/providers/Microsoft.Management/managementGroups/contoso-ai/providers/Microsoft.Authorization/roleAssignments/00000007-aaaa-4bbb-8ccc-dddddddddddd';
/** Owner on the dev subscription for a production account's identity: seen though the policy excludes dev. */
const DEV_OWNER = `/subscriptions/${SUB_DEV}/providers/Microsoft.Authorization/roleAssignments/0000000a-aaaa-4bbb-8ccc-dddddddddddd`;

/** The sample tenant with DEV_OWNER added. */
async function tenant(): Promise<SimulatorTenant> {
  const t = await sampleTenant();
  const row: Row = {
    id: DEV_OWNER, name: DEV_OWNER.split('/').pop(), type: ROLE_ASSIGNMENTS, subscriptionId: SUB_DEV, resourceGroup: '',
    properties: { principalId: CHAT_PRINCIPAL, principalType: 'ServicePrincipal', roleDefinitionId: `/subscriptions/${SUB_DEV}/providers/Microsoft.Authorization/roleDefinitions/${OWNER}`, scope: `/subscriptions/${SUB_DEV}` },
  };
  return { ...t, authorizationresources: [...t.authorizationresources, row] };
}

/** The role-assignment IDs the sample tenant lets the caller read (the refused subscription holds none). */
function readableAssignments(t: SimulatorTenant): string[] {
  return t.authorizationresources
    .filter((r) => String(r.type).toLowerCase() === ROLE_ASSIGNMENTS && !String(r.id).toLowerCase().startsWith(`/subscriptions/${SUB_FORBIDDEN}`))
    .map((r) => String(r.id).toLowerCase());
}

const isRoleQuery = (r: SimulatorRequest) => r.kind === 'graph' && String(r.body?.query).includes(ROLE_ASSIGNMENTS);
const EXCLUDE_DEV = parsePolicyText(`scope: { exclude: { subscriptions: [${SUB_DEV}] } }`, 'p');

describe('the role-assignment table is read once', () => {
  for (const [name, scope] of [['tenant', {}], ['management group', { managementGroups: ['contoso-ai'] }]] as const) {
    it(`${name} scope: each assignment once (query plan rows = distinct assignments), the management-group one and one on a policy-excluded subscription too`, async () => {
      const t = await tenant();
      const expected = readableAssignments(t);
      const bodies: Array<Record<string, unknown>> = [];
      await withSimulator({ tenant: t, fault: (r) => void (isRoleQuery(r) && r.body && bodies.push(r.body)) }, async (sim) => {
        // The collector: every row it read, and how many the query plan counts.
        const include = { subscriptions: [], managementGroups: [], ...scope };
        const { tables, queryPlan } = await collectContext(simulatorGraph(sim), include, () => undefined, { subscriptions: [SUB_DEV], managementGroups: [] });
        const ids = tables.roleAssignments.rows.map((r) => String((r as Row).id).toLowerCase());
        assert.equal(tables.roleAssignments.failure, undefined);
        assert.deepEqual([...ids].sort(), [...expected].sort(), 'every assignment, none twice');
        const plan = queryPlan.find((p) => p.type === ROLE_ASSIGNMENTS);
        assert.equal(plan?.rows, expected.length);
        assert.equal(plan?.pages, plan?.leastPages, 'no page above the least');
        assert.ok(ids.includes(MG_ASSIGNMENT.toLowerCase()) && ids.includes(DEV_OWNER.toLowerCase()));
        // One batch (the production subscription) and one scope-level query naming the dev and the refused subscriptions.
        assert.equal(bodies.length, 2);
        assert.deepEqual(bodies[0]?.subscriptions, [SUB_PROD]);
        const atScope = bodies[1] ?? {};
        assert.deepEqual(atScope.subscriptions, undefined);
        assert.deepEqual(atScope.managementGroups, 'managementGroups' in scope ? scope.managementGroups : undefined);
        assert.match(String(atScope.query), new RegExp(`\\| where isempty\\(subscriptionId\\) or subscriptionId in~ \\('${SUB_DEV}', '${SUB_FORBIDDEN}'\\) \\|`));

        // The scan: the excluded subscription is not scanned, but the Owner role on it is judged (ID-03).
        const { scan, findings } = await scanSimulator(sim, { scope, policy: EXCLUDE_DEV });
        assert.ok(!scan.coverage.subscriptions.some((s) => s.id === SUB_DEV));
        assert.equal(scan.stats.queryPlan?.find((p) => p.type === ROLE_ASSIGNMENTS)?.rows, expected.length);
        const chat = finding(findings, 'oai-chat-prod', 'ID-03');
        assert.equal(chat.outcome, 'fail');
        assert.match(chat.message, new RegExp(`Owner .*/subscriptions/${SUB_DEV}`, 'i'));
      });
    });
  }

  it('reads the rows of no subscription alone when the batches read every subscription of the scope', async () => {
    const t = await tenant();
    const queries: string[] = [];
    const fault = (r: SimulatorRequest) => void (isRoleQuery(r) && queries.push(String(r.body?.query)));
    await withSimulator({ tenant: { ...t, forbiddenSubscriptions: [] }, fault }, async (sim) => {
      const { tables, queryPlan } = await collectContext(simulatorGraph(sim), { subscriptions: [], managementGroups: [] }, () => undefined);
      const expected = t.authorizationresources.length;
      assert.equal(tables.roleAssignments.rows.length, expected);
      assert.equal(queryPlan.find((p) => p.type === ROLE_ASSIGNMENTS)?.rows, expected);
      assert.equal(queries.length, 2);
      assert.match(queries[1] ?? '', /\| where isempty\(subscriptionId\) \| project /);
    });
  });
});

describe('the simulator\'s Resource Graph where clauses', () => {
  const base = `${TABLES.roleAssignments.table} | where type =~ '${ROLE_ASSIGNMENTS}'`;
  const project = ` | project ${TABLES.roleAssignments.project}`;

  it('evaluates the clauses the collector sends: isempty(subscriptionId), subscriptionId in~ (…), and their or', async () => {
    const t = await tenant();
    await withSimulator({ tenant: t }, async (sim) => {
      const graph = simulatorGraph(sim);
      const ids = async (query: string) => (await graph.readAll(query, {})).map((r) => String((r as Row).id).toLowerCase()).sort();
      assert.deepEqual(await ids(`${base} | where isempty(subscriptionId)${project}`), [MG_ASSIGNMENT.toLowerCase()]);
      const dev = readableAssignments(t).filter((id) => id.startsWith(`/subscriptions/${SUB_DEV}`)).sort();
      assert.ok(dev.length > 1);
      assert.deepEqual(await ids(`${base} | where subscriptionId in~ ('${SUB_DEV.toUpperCase()}')${project}`), dev);
      assert.deepEqual(await ids(`${base} | where isempty(subscriptionId) or subscriptionId in~ ('nope', '${SUB_DEV}')${project}`), [MG_ASSIGNMENT.toLowerCase(), ...dev].sort());
      assert.equal((await ids(tableQuery(TABLES.roleAssignments))).length, readableAssignments(t).length);
    });
  });

  it('answers 400 BadRequest to a where clause or an operator it does not understand, never every row', async () => {
    await withSimulator({}, async (sim) => {
      const graph = simulatorGraph(sim);
      for (const query of [
        `${base} | where subscriptionId !in~ ('${SUB_DEV}')${project}`,
        `${base} | where isnotempty(subscriptionId)${project}`,
        `${base} | where isempty(subscriptionId) and subscriptionId in~ ('${SUB_DEV}')${project}`,
        `${base} | where properties.principalId == 'x'${project}`,
        `${base} | where subscriptionId in~ ('${SUB_DEV}'${project}`,
        `${base} | take 1${project}`,
      ]) {
        const error = await graph.readAll(query, {}).then(() => undefined, (e: unknown) => e);
        assert.ok(error instanceof GraphQueryError, query);
        assert.equal(error.statusCode, 400, query);
        assert.match(error.message, /BadRequest|unsupported/, query);
      }
    });
  });
});
