import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { COSMOS_SQL_ROLE_ASSIGNMENTS_API_VERSION } from '../../src/collect/cosmosRoleAssignments.js';
import type { Row, SimulatorRequest, SimulatorTenant } from '../../src/simulator/server.js';
import { finding, sampleTenant, scanSimulator, SUB_DEV, SUB_FORBIDDEN, withSimulator } from '../helpers/sample.js';

/**
 * Data sources beyond storage (issue 21) collected against the simulator: the Cosmos DB and Search
 * inventory tables, the Cosmos DB `sqlRoleAssignments` step (one ARM read per Cosmos DB account, once
 * per scan), a Cosmos DB account whose assignments answer 403, and the FQDN suffixes of each cloud.
 *
 * The sample tenant: cosmos-rag-prod (associated with nsp-ai-prod) gives oai-chat-prod's identity
 * the built-in Data Reader; srch-docs-prod grants Search Index Data Reader to oai-rollout-prod, whose
 * rollout perimeter (Learning, would-be-denied traffic) has no outbound rule for it: ID-04 fails and
 * NSP-07 proposes the service's FQDN in its outbound rule.
 */

const COSMOS_LOCKED = `/subscriptions/${SUB_DEV}/resourceGroups/rg-data-dev/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-locked-dev`;
const COSMOS_OUTSIDE = `/subscriptions/${SUB_DEV}/resourceGroups/rg-data-dev/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-outside-dev`;
const SEARCH_DOCS = 'srch-docs-prod';

function cosmosRow(id: string): Row {
  const name = id.split('/').pop() ?? '';
  return { id, name, type: 'microsoft.documentdb/databaseaccounts', kind: 'GlobalDocumentDB', location: 'eastus', subscriptionId: id.split('/')[2], resourceGroup: id.split('/')[4], tags: {}, properties: {} };
}

/** The sample plus cosmos-outside-dev (not associated; Data Contributor for oai-chat-prod) and cosmos-locked-dev (403). */
async function tenantWithMoreCosmos(): Promise<SimulatorTenant> {
  const tenant = await sampleTenant();
  tenant.resources.push(cosmosRow(COSMOS_LOCKED), cosmosRow(COSMOS_OUTSIDE));
  (tenant.forbiddenCosmosAccounts ?? []).push(COSMOS_LOCKED);
  (tenant.sqlRoleAssignments ?? {})[COSMOS_OUTSIDE.toLowerCase()] = [{
    id: `${COSMOS_OUTSIDE}/sqlRoleAssignments/5a5a5a5a-0000-4000-8000-000000000001`,
    name: '5a5a5a5a-0000-4000-8000-000000000001',
    type: 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments',
    properties: { principalId: '00000001-1111-4222-8333-444455556666', roleDefinitionId: `${COSMOS_OUTSIDE}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002`, scope: `${COSMOS_OUTSIDE}/dbs/orders` },
  }];
  return tenant;
}

const isCosmosRead = (r: SimulatorRequest) => r.kind === 'arm' && /\/sqlRoleAssignments$/i.test(r.path);

describe('data sources beyond storage', () => {
  it('reads each Cosmos DB account\'s sqlRoleAssignments once per scan and judges Cosmos DB and Search', async () => {
    const reads: SimulatorRequest[] = [];
    await withSimulator({ fault: (r) => void (isCosmosRead(r) && reads.push(r)) }, async (sim) => {
      const { findings, scan } = await scanSimulator(sim);
      // One Cosmos DB account in the sample: one extra ARM read, at the newest stable api-version.
      assert.equal(reads.length, 1);
      assert.match(reads[0]?.search ?? '', new RegExp(`api-version=${COSMOS_SQL_ROLE_ASSIGNMENTS_API_VERSION}`));
      // The inventory tables are in the plan.
      const types = scan.coverage.tables.map((t) => t.type);
      assert.ok(types.includes('microsoft.documentdb/databaseaccounts') && types.includes('microsoft.search/searchservices'), types.join());
      // oai-chat-prod: storage and Cosmos DB, both in its perimeter.
      const chat = finding(findings, 'oai-chat-prod', 'ID-04');
      assert.equal(chat.outcome, 'pass', chat.message);
      assert.match(chat.message, /1 Storage account\(s\), 1 Cosmos DB account\(s\)/);
      const ds = chat.evidence.dataSources as Array<{ kind: string; id: string; status: string }>;
      assert.deepEqual(ds.map((d) => `${d.kind}:${d.status}`).sort(), ['cosmosdb:ok', 'storage:ok']);
      // oai-rollout-prod: AI Search without an outbound rule fails, with the exact rule to add; ID-02 passes on the Search role.
      const rollout = finding(findings, 'oai-rollout-prod', 'ID-04');
      assert.equal(rollout.outcome, 'fail', rollout.message);
      assert.match(rollout.message, new RegExp(`add ${SEARCH_DOCS}\\.search\\.windows\\.net to an outbound rule`));
      assert.equal(finding(findings, 'oai-rollout-prod', 'ID-02').outcome, 'pass');
      // The same truth in NSP-07's proposal: the outbound rule names the Search service beside the logged destinations.
      const readiness = finding(findings, 'oai-rollout-prod', 'NSP-07');
      const proposed = readiness.evidence.proposedRules as Array<{ name: string; fullyQualifiedDomainNames: string[]; az: string }>;
      const outbound = proposed.find((r) => r.name === 'readiness-outbound-fqdns');
      assert.ok(outbound?.fullyQualifiedDomainNames.includes(`${SEARCH_DOCS}.search.windows.net`), JSON.stringify(outbound?.fullyQualifiedDomainNames));
      assert.match(outbound?.az ?? '', new RegExp(`${SEARCH_DOCS}\\.search\\.windows\\.net`));
    });
  });

  it('a Cosmos DB account outside the perimeter fails ID-04; one answering 403 makes the verdicts it could change unknown, never pass', async () => {
    const tenant = await tenantWithMoreCosmos();
    const reads: SimulatorRequest[] = [];
    await withSimulator({ tenant, fault: (r) => void (isCosmosRead(r) && reads.push(r)) }, async (sim) => {
      const { findings } = await scanSimulator(sim, { throttle: { baseDelayMs: 1, maxAttempts: 2 } });
      assert.equal(new Set(reads.map((r) => r.path.toLowerCase())).size, 3, 'one read per Cosmos DB account');
      const chat = finding(findings, 'oai-chat-prod', 'ID-04');
      assert.equal(chat.outcome, 'fail', chat.message);
      assert.match(chat.message, /Cosmos DB account 'cosmos-outside-dev' is outside the account's perimeter and no outbound rule allows cosmos-outside-dev\.documents\.azure\.com/);
      // oai-batch-prod passed on storage alone before; the unreadable account, outside its perimeter, could change that.
      for (const f of findings.filter((x) => x.ruleId === 'ID-04')) {
        assert.notEqual(f.outcome === 'pass' && /cosmos-locked-dev/.test(JSON.stringify(f.evidence)), true, `${f.accountName}: a pass resting on unread data`);
      }
      const unknowns = findings.filter((f) => f.ruleId === 'ID-04' && f.outcome === 'unknown' && /cosmos-locked-dev/.test(f.message));
      assert.ok(unknowns.length > 0, 'some ID-04 verdict waits on the unreadable Cosmos DB account');
      for (const f of unknowns) assert.match(f.message, /403|AuthorizationFailed/);
      // ID-02 on an account with no data role found is unknown, with the reason.
      const none = findings.filter((f) => f.ruleId === 'ID-02' && f.code === 'cosmos-role-assignments-unread');
      assert.ok(none.length > 0);
      assert.equal(findings.filter((f) => f.ruleId === 'ID-02' && f.code === 'no-data-role').length, 0, 'no ID-02 fail while Cosmos DB assignments are unread');
    });
  });

  it('the Cosmos DB reads start once the Cosmos DB accounts and the associations are read, while the role assignments are still being read', async () => {
    // The last role-assignment query (the scope-level one) is held until a Cosmos DB read arrives (or 5 s pass).
    let cosmosRead!: () => void;
    const arrived = new Promise<boolean>((resolve) => {
      cosmosRead = () => resolve(true);
      setTimeout(() => resolve(false), 5000).unref();
    });
    let heldUntilCosmos: boolean | undefined;
    const fault = async (r: SimulatorRequest) => {
      if (isCosmosRead(r)) cosmosRead();
      if (r.kind === 'graph' && /microsoft\.authorization\/roleassignments'.*isempty\(subscriptionId\)/.test(String(r.body?.query))) heldUntilCosmos = await arrived;
      return undefined;
    };
    await withSimulator({ fault }, async (sim) => {
      const { findings } = await scanSimulator(sim);
      assert.equal(heldUntilCosmos, true, 'a Cosmos DB read was sent while the role-assignment table was not read yet');
      // The same verdict as when the step ran after every table (the first test).
      assert.equal(finding(findings, 'oai-chat-prod', 'ID-04').outcome, 'pass');
    });
  });

  it('Cosmos DB accounts and Search services are read by one query', async () => {
    const queries: string[] = [];
    await withSimulator({ fault: (r) => void (r.kind === 'graph' && queries.push(String(r.body?.query))) }, async (sim) => {
      const { scan } = await scanSimulator(sim);
      // Coverage still counts each table's rows: the sample's one Cosmos DB account and one Search service, each in its own table.
      const tenant = await sampleTenant();
      for (const type of ['microsoft.documentdb/databaseaccounts', 'microsoft.search/searchservices']) {
        const expected = tenant.resources.filter((r) => String(r.type).toLowerCase() === type && String(r.subscriptionId) !== SUB_FORBIDDEN).length;
        assert.ok(expected > 0, type);
        assert.equal(scan.coverage.tables.find((t) => t.type === type)?.rows, expected, type);
      }
      const both = queries.filter((q) => q.includes('microsoft.documentdb/databaseaccounts') || q.includes('microsoft.search/searchservices'));
      assert.ok(both.length > 0 && both.every((q) => q.includes('microsoft.documentdb/databaseaccounts') && q.includes('microsoft.search/searchservices')), both.join('\n'));
    });
    // A row of another type in the answer (a source ignoring the filter) is left out: test/integration/scan.test.ts.
  });

  it('no Cosmos DB read when none is in the inventory read, or no associated account is in scope', async () => {
    const reads: SimulatorRequest[] = [];
    await withSimulator({ fault: (r) => void (isCosmosRead(r) && reads.push(r)) }, async (sim) => {
      // The dev subscription alone: the sample's Cosmos DB account (prod) is not in the inventory read.
      await scanSimulator(sim, { scope: { subscriptions: [SUB_DEV] } });
      assert.equal(reads.length, 0);
    });
    const tenant = await sampleTenant();
    tenant.networkresources.splice(0, tenant.networkresources.length, ...tenant.networkresources.filter((r) => !/resourceassociations$/i.test(String(r.type))));
    await withSimulator({ tenant, fault: (r) => void (isCosmosRead(r) && reads.push(r)) }, async (sim) => {
      await scanSimulator(sim);
      assert.equal(reads.length, 0, 'no association: ID-02 and ID-04 apply to no account, the step is skipped');
    });
  });

  for (const [cloud, suffixes] of [
    ['AzureCloud', { search: 'search.windows.net', cosmos: 'documents.azure.com' }],
    ['AzureUSGovernment', { search: 'search.azure.us', cosmos: 'documents.azure.us' }],
    ['AzureChinaCloud', { search: 'search.azure.cn', cosmos: 'documents.azure.cn' }],
  ] as const) {
    it(`${cloud}: the data sources' endpoints use the cloud's suffixes`, async () => {
      const tenant = await tenantWithMoreCosmos();
      tenant.forbiddenCosmosAccounts?.splice(0);
      await withSimulator({ tenant }, async (sim) => {
        const { findings } = await scanSimulator(sim, { cloud });
        const rollout = finding(findings, 'oai-rollout-prod', 'ID-04');
        assert.match(rollout.message, new RegExp(`${SEARCH_DOCS}\\.${suffixes.search.replace(/\./g, '\\.')}`));
        const chat = finding(findings, 'oai-chat-prod', 'ID-04');
        assert.match(chat.message, new RegExp(`cosmos-outside-dev\\.${suffixes.cosmos.replace(/\./g, '\\.')}`));
        assert.equal((chat.evidence as { cloud?: string }).cloud, cloud);
      });
    });
  }
});
