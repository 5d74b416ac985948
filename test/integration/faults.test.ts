import assert from 'node:assert/strict';
import { defaultPolicy } from '../../src/config/policy.js';
import { describe, it } from 'vitest';
import { BlobStore } from '../../src/store/stores.js';
import { finding, outcomes, sampleTenant, scanSimulator, SUB_PROD, withSimulator } from '../helpers/sample.js';
import { useAzurite } from '../helpers/azurite.js';

/**
 * Faults of the issue "Reliability and security", injected per test through the simulator's
 * fault hook: the scan completes (partial where data is missing) or stops with a clear error;
 * outcomes are unknown exactly where data is missing; retries are bounded in count and time.
 */
describe('fault injection', () => {
  const azurite = useAzurite();

  it('slow answers beyond the client timeout are retried a bounded number of times, then unread', async () => {
    let attempts = 0;
    await withSimulator(
      {
        // The access-rule query never gets an answer: each attempt can only end at the client's
        // deadline, so the count of attempts, not a stopwatch, shows the retries are bounded.
        fault: (r) => {
          if (r.kind !== 'graph' || !String(r.body?.query).includes('accessrules')) return undefined;
          attempts += 1;
          return { status: 200, hang: true };
        },
      },
      async (sim) => {
        // A deadline far above any answer's time on a loaded machine, so only the hanging query meets it.
        const { scan, findings } = await scanSimulator(sim, { throttle: { timeoutMs: 4000, maxAttempts: 2, baseDelayMs: 10 } });
        assert.equal(attempts, 2, 'one query, cut at the deadline on each of its 2 attempts');
        const table = scan.coverage.tables.find((t) => t.type.endsWith('/accessrules'));
        assert.equal(table?.status, 'failed');
        assert.equal(scan.status, 'partial');
        assert.equal(finding(findings, 'oai-chat-prod', 'NSP-03').outcome, 'unknown');
        assert.equal(finding(findings, 'oai-chat-prod', 'NSP-02').outcome, 'pass', 'verdicts that do not need access rules still decide');
      },
    );
  });

  it('connection resets and truncated JSON are retried; once the service recovers the scan is whole', async () => {
    const reference = await withSimulator({}, async (sim) => outcomes((await scanSimulator(sim)).findings));
    let broken = 0;
    await withSimulator(
      {
        fault: (r) => {
          if (r.kind !== 'graph' || r.sequence % 3 !== 0) return undefined;
          broken += 1;
          return broken % 2 ? { status: 200, reset: true } : { status: 200, body: '{"totalRecords": 5, "data": [{"id": "/subscr' };
        },
      },
      async (sim) => {
        const { scan, findings } = await scanSimulator(sim, { throttle: { baseDelayMs: 1 } });
        assert.ok(broken >= 4, `${broken} broken answers`);
        assert.deepEqual(outcomes(findings), reference);
        assert.ok(scan.stats.resourceGraphRequests > scan.stats.resourceGraphPages, 'retries happened');
      },
    );
  });

  it('a 1 MB tag value and rows of the wrong types cost only their own verdicts', async () => {
    const tenant = await sampleTenant();
    const chat = tenant.resources.find((r) => r.name === 'oai-chat-prod');
    assert.ok(chat);
    chat.tags = { ...(chat.tags as object), note: 'x'.repeat(1024 * 1024) };
    tenant.resources.push(
      { id: 42, type: 'microsoft.cognitiveservices/accounts', name: 'no-id' },
      { id: `/subscriptions/${SUB_PROD}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/typed`, type: 'microsoft.cognitiveservices/accounts', kind: 7, identity: 'SystemAssigned', properties: { publicNetworkAccess: 1, disableLocalAuth: 'true', networkAcls: [] } },
    );
    await withSimulator({ tenant }, async (sim) => {
      const { findings } = await scanSimulator(sim);
      assert.equal(finding(findings, 'oai-chat-prod', 'NET-01').outcome, 'pass');
      assert.equal(finding(findings, 'oai-chat-prod', 'AUTH-01').outcome, 'pass');
      const typed = findings.filter((f) => f.accountName === 'typed');
      assert.equal(typed.length, defaultPolicy().enabledRules.size);
      assert.ok(typed.every((f) => f.outcome === 'unknown' || f.outcome === 'not_applicable'), typed.map((f) => `${f.ruleId}:${f.outcome}`).join());
      assert.ok(typed.some((f) => f.outcome === 'unknown'));
      assert.ok(!typed.some((f) => f.outcome === 'pass'), 'never pass on data that was not read');
    });
  });

  it('partial results (resultTruncated without a token to continue) are never taken for the whole', async () => {
    await withSimulator(
      {
        fault: (r) =>
          r.kind === 'graph' && String(r.body?.query).includes('roleassignments')
            ? { status: 200, body: { totalRecords: 500, count: 1, resultTruncated: 'true', data: [], facets: [] } }
            : undefined,
      },
      async (sim) => {
        const { scan, findings } = await scanSimulator(sim);
        const table = scan.coverage.tables.find((t) => t.type === 'microsoft.authorization/roleassignments');
        assert.equal(table?.status, 'failed');
        assert.match(table?.reason ?? '', /truncated and no skipToken/);
        assert.equal(finding(findings, 'oai-chat-prod', 'ID-03').outcome, 'unknown', 'not a pass on a partial list');
        assert.equal(scan.status, 'partial');
      },
    );
  });

  it('a scan that cannot finish leaves the previous latest.json intact', async () => {
    const container = azurite.container('faults-latest');
    const store = new BlobStore(container);
    const good = await withSimulator({}, async (sim) => scanSimulator(sim, { stores: [store] }));
    await withSimulator({ fault: () => ({ status: 503, body: { error: { code: 'ServiceUnavailable', message: 'down' } } }) }, async (sim) => {
      await assert.rejects(scanSimulator(sim, { stores: [store], throttle: { maxAttempts: 2, baseDelayMs: 1 } }), /cannot list subscriptions: HTTP 503/);
    });
    assert.equal((await store.latest())?.scanId, good.scan.scanId);
  });
});
