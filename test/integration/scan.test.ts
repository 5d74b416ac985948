import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { defaultPolicy, policyFrom } from '../../src/config/policy.js';
import { RULES } from '../../src/rules/index.js';
import { fakeClock } from '../helpers/clock.js';
import {
  finding,
  outcomes,
  SUB_DEV,
  SUB_FORBIDDEN,
  SUB_PROD,
  sampleTenant,
  scanSimulator,
  withSimulator,
} from '../helpers/sample.js';

/**
 * The scan end to end through the real @azure SDK clients, against the HTTPS ARM simulator
 * serving the sample tenant (src/simulator/tenants/sample).
 */
describe('scan of the sample tenant', () => {
  it('covers every readable account with every enabled rule and records the unreadable subscription', async () => {
    await withSimulator({}, async (sim) => {
      const { scan, findings } = await scanSimulator(sim);
      assert.equal(scan.status, 'partial');
      const coverage = Object.fromEntries(scan.coverage.subscriptions.map((s) => [s.id, s]));
      assert.equal(coverage[SUB_PROD]?.status, 'read');
      assert.equal(coverage[SUB_DEV]?.status, 'read');
      assert.equal(coverage[SUB_FORBIDDEN]?.status, 'unreadable');
      assert.match(coverage[SUB_FORBIDDEN]?.reason ?? '', /403 AuthorizationFailed/);
      assert.equal(scan.coverage.accounts, 19);
      assert.ok(!findings.some((f) => f.subscriptionId === SUB_FORBIDDEN), 'nothing from the unreadable subscription');
      assert.equal(findings.length, 19 * defaultPolicy().enabledRules.size);
      const pairs = new Set(findings.map((f) => `${f.resourceId.toLowerCase()}|${f.ruleId}`));
      assert.equal(pairs.size, findings.length, 'exactly one finding per (rule, account)');
      assert.equal(scan.rules.length, defaultPolicy().enabledRules.size);
      assert.equal(
        scan.summary.byOutcome.pass
        + scan.summary.byOutcome.fail
        + scan.summary.byOutcome.unknown
        + scan.summary.byOutcome.not_applicable,
        findings.length,
      );
      // Every enabled rule passes somewhere and fails somewhere in the sample tenant.
      for (const rule of RULES.filter((r) => r.enabledByDefault)) {
        const counts = scan.summary.byRule[rule.id];
        assert.ok(counts && counts.pass > 0 && counts.fail > 0, `${rule.id} ${JSON.stringify(counts)}`);
      }
      // 11 configuration reads (one per account with an association row), then NSP-07's: the diagnostic settings of the
      // 3 perimeters with a Learning-mode association and the 2 workspaces they send to; and the sqlRoleAssignments of
      // the one Cosmos DB account (issue 21).
      assert.equal(scan.stats.armRequests, 11 + 3 + 2 + 1);
    });
  });

  it('gives the verdicts the sample tenant was built to show', async () => {
    await withSimulator({}, async (sim) => {
      const { findings } = await scanSimulator(sim);
      const expect = (account: string, rule: string, outcome: string, message?: RegExp) => {
        const f = finding(findings, account, rule);
        assert.equal(f.outcome, outcome, `${account} ${rule}: ${f.message}`);
        if (message) assert.match(f.message, message);
      };
      expect('oai-chat-prod', 'NET-01', 'pass', /Enforced perimeter/); // Enabled + Allow, overridden by Enforced
      expect('oai-chat-prod', 'NSP-06', 'pass');
      expect('oai-batch-prod', 'NSP-05', 'fail', /ConfigurationPropagationFailure/);
      expect('oai-batch-prod', 'ID-03', 'fail', /Contributor .*rg-ai-prod \(privileged role\)/);
      expect('oai-batch-prod', 'ID-04', 'fail', /contosoexports/);
      expect('oai-batch-prod', 'ENC-01', 'fail');
      expect('aisvc-foundry-prod', 'NSP-02', 'fail', /Learning/);
      expect('aisvc-foundry-prod', 'NSP-06', 'fail');
      expect('aisvc-foundry-prod', 'ID-04', 'pass'); // reached through the profile's outbound rule
      expect('oai-assoc-failed', 'NSP-01', 'fail', /provisioning state Failed/);
      expect('oai-assoc-failed', 'NET-05', 'fail', /bypass is None/);
      expect('aisvc-drift-prod', 'NSP-05', 'fail', /no perimeter configuration/);
      expect('aisvc-drift-prod', 'NSP-06', 'unknown');
      expect('aisvc-dev-agents', 'NSP-02', 'fail', /Audit/);
      expect('aisvc-dev-agents', 'NET-01', 'fail');
      expect('oai-dev-sandbox', 'NSP-03', 'fail', /0\.0\.0\.0\/0/);
      expect('oai-dev-sandbox', 'NSP-04', 'fail', /\*\.blob\.core\.windows\.net/);
      // The management-group-scope assignment is read by the scope-level role assignment query.
      expect('oai-dev-sandbox', 'ID-03', 'fail', /managementGroups\/contoso-ai \(data role at broad scope\)/);
      expect('aisvc-dev-reach', 'ID-04', 'unknown', /not in the storage inventory/);
      expect('face-kiosk-prod', 'NET-03', 'fail', /10\.0\.0\.0\/8.*2001:db8::\/32.*203\.0\.113\.5\/32.*not a subnet/);
      expect('face-kiosk-prod', 'NSP-01', 'not_applicable');
      expect('docintel-dev', 'NET-01', 'unknown', /malformed network settings/);
      expect('docintel-dev', 'AUTH-01', 'pass');
      expect('cog-speech-dev', 'ID-03', 'fail', /Owner/);
      expect('oai-pe-pending', 'NET-06', 'fail', /pe-external/);
      // The Learning-mode accounts of enforcement readiness: their profiles are least-privilege and logged.
      expect('oai-rollout-prod', 'NSP-02', 'fail', /Learning/);
      expect('oai-rollout-prod', 'NSP-03', 'pass');
      expect('oai-rollout-prod', 'NSP-04', 'pass');
      expect('oai-rollout-prod', 'NSP-06', 'pass');
      expect('aisvc-ready-prod', 'NSP-06', 'pass');
      expect('oai-lab-dev', 'NSP-06', 'pass');
    });
  });

  it('gives the same verdicts whatever the page size (skipToken paging)', async () => {
    await withSimulator({}, async (sim) => {
      const big = await scanSimulator(sim);
      const small = await scanSimulator(sim, { pageSize: 2 });
      assert.deepEqual(outcomes(small.findings), outcomes(big.findings));
      assert.ok(
        small.scan.stats.resourceGraphPages > big.scan.stats.resourceGraphPages + 10,
        `${small.scan.stats.resourceGraphPages} pages`,
      );
    });
  });

  it('paces Resource Graph to the quota the server reports, so it is never throttled', async () => {
    // The server's quota window and the client's pacing share one fake clock: the client's waits
    // move the time the server counts in, so the outcome does not depend on the machine's speed.
    const clock = fakeClock();
    const start = clock.now();
    await withSimulator({ quota: { limit: 4, windowMs: 1000, enforce: true, retryAfter: true }, now: clock.now }, async (sim) => {
      const { scan } = await scanSimulator(sim, { pageSize: 10, throttle: { window: { limit: 15, windowMs: 5000 }, now: clock.now, sleep: clock.sleep } });
      assert.equal(sim.stats.throttled, 0);
      assert.ok(sim.stats.graphRequests > 8, `${sim.stats.graphRequests} queries, over two quota windows`);
      assert.ok(clock.now() - start >= 2000, `the client waited for the quota to reset (${clock.waits.join(', ')} ms)`);
      assert.equal(scan.coverage.accounts, 19);
    });
  });

  it('completes under a 429 storm, with and without Retry-After, with the same verdicts', async () => {
    const reference = await withSimulator({}, async (sim) => outcomes((await scanSimulator(sim)).findings));
    for (const retryAfter of [true, false]) {
      // Every other Resource Graph query is refused, as when other clients share the caller's quota.
      await withSimulator(
        {
          fault: (r) =>
            r.kind === 'graph' && r.sequence % 2 === 0
              ? {
                  status: 429,
                  headers: retryAfter ? { 'retry-after': '0' } : ({} as Record<string, string>),
                  body: { error: { code: 'RateLimiting', message: 'slow down' } },
                }
              : undefined,
        },
        async (sim) => {
          const { scan, findings } = await scanSimulator(sim, { pageSize: 5 });
          assert.ok(sim.stats.throttled > 10, `the simulator throttled ${sim.stats.throttled} times`);
          assert.equal(scan.stats.throttledResponses, sim.stats.throttled);
          assert.deepEqual(outcomes(findings), reference, `retryAfter=${retryAfter}`);
        },
      );
    }
  });

  it('gives up on a query after a bounded number of attempts and records the table as unread', async () => {
    await withSimulator(
      {
        fault: (r) =>
          r.kind === 'graph' && String(r.body?.query).includes('authorizationresources')
            ? { status: 429, body: { error: { code: 'RateLimiting', message: 'no' } } }
            : undefined,
      },
      async (sim) => {
        const { scan, findings } = await scanSimulator(sim, { throttle: { maxAttempts: 3 } });
        const table = scan.coverage.tables.find((t) => t.type === 'microsoft.authorization/roleassignments');
        assert.equal(table?.status, 'failed');
        // One query for the batch of readable subscriptions and one at tenant scope, three attempts each.
        assert.equal(sim.stats.throttled, 6);
        assert.equal(finding(findings, 'oai-chat-prod', 'ID-03').outcome, 'unknown');
        assert.equal(
          finding(findings, 'oai-legacy-prod', 'ID-03').outcome,
          'not_applicable',
          'no identity: role assignments not needed',
        );
      },
    );
  });

  it('a Resource Graph table that fails turns dependent outcomes to unknown, never pass', async () => {
    await withSimulator(
      {
        fault: (r) =>
          r.kind === 'graph' && String(r.body?.query).includes('resourceassociations')
            ? { status: 500, body: { error: { code: 'InternalServerError', message: 'boom' } } }
            : undefined,
      },
      async (sim) => {
        const { scan, findings } = await scanSimulator(sim);
        assert.equal(scan.status, 'partial');
        const table = scan.coverage.tables.find((t) => t.type.endsWith('/resourceassociations'));
        assert.equal(table?.status, 'failed');
        assert.match(table?.reason ?? '', /HTTP 500/);
        for (const name of ['oai-chat-prod', 'oai-legacy-prod', 'aisvc-foundry-prod']) {
          assert.equal(finding(findings, name, 'NSP-01').outcome, 'unknown', name);
        }
        assert.equal(
          finding(findings, 'oai-chat-prod', 'NET-01').outcome,
          'unknown',
          'Enabled + Allow: enforcement unknown',
        );
        assert.equal(
          finding(findings, 'oai-batch-prod', 'NET-01').outcome,
          'pass',
          'Disabled passes whatever the perimeter',
        );
        assert.equal(
          finding(findings, 'face-kiosk-prod', 'NET-01').outcome,
          'fail',
          'non-capable kinds do not consult perimeter data',
        );
        assert.equal(finding(findings, 'oai-legacy-prod', 'AUTH-01').outcome, 'fail', 'unrelated rules still decide');
        for (const f of findings.filter((x) => x.ruleId.startsWith('NSP')))
          assert.notEqual(f.outcome, 'pass', `${f.accountName} ${f.ruleId}`);
        // No deep reads without knowing the associations; the Cosmos DB step runs (any account may be associated): 1 read.
        assert.equal(scan.stats.armRequests, 1, 'no deep reads without knowing the associations');
      },
    );
  });

  it('a failed perimeter configuration read makes NSP-05/NSP-06 unknown for that account only', async () => {
    await withSimulator(
      {
        fault: (r) =>
          r.kind === 'arm' && r.path.includes('/oai-chat-prod/')
            ? { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } }
            : undefined,
      },
      async (sim) => {
        const { scan, findings } = await scanSimulator(sim);
        assert.equal(finding(findings, 'oai-chat-prod', 'NSP-05').outcome, 'unknown');
        assert.match(finding(findings, 'oai-chat-prod', 'NSP-06').message, /HTTP 403/);
        assert.equal(finding(findings, 'oai-batch-prod', 'NSP-05').outcome, 'fail');
        assert.deepEqual(scan.coverage.deepInspection, { accounts: 11, failed: 1 });
        assert.equal(scan.status, 'partial');
      },
    );
  });

  it('without deep inspection: no perimeter configuration reads, NSP-05/NSP-06 do not run', async () => {
    await withSimulator({}, async (sim) => {
      const base = policyFrom({ parameters: { deepInspection: false } }, 'inline');
      const { scan, findings } = await scanSimulator(sim, { policy: base });
      // The only ARM read: the Cosmos DB account's sqlRoleAssignments (ID-02/ID-04 are not deep rules).
      assert.equal(scan.stats.armRequests, 1);
      assert.equal(sim.stats.armRequests, 1);
      assert.ok(!findings.some((f) => f.ruleId === 'NSP-05' || f.ruleId === 'NSP-06'));
      assert.equal(findings.length, 19 * 17);
    });
  });

  it('scans a management group, and given subscriptions, recording one that is not visible', async () => {
    await withSimulator({}, async (sim) => {
      const byMg = await scanSimulator(sim, { scope: { managementGroups: ['contoso-ai'] } });
      assert.equal(byMg.scan.coverage.accounts, 19);
      const missing = '99999999-9999-4999-8999-999999999999';
      const bySub = await scanSimulator(sim, { scope: { subscriptions: [SUB_DEV, missing] } });
      assert.ok(bySub.findings.every((f) => f.subscriptionId === SUB_DEV));
      assert.equal(bySub.scan.coverage.accounts, 8);
      const cov = Object.fromEntries(bySub.scan.coverage.subscriptions.map((s) => [s.id, s]));
      assert.equal(cov[SUB_DEV]?.status, 'read');
      assert.equal(cov[missing]?.status, 'unreadable');
      assert.match(cov[missing]?.reason ?? '', /not found, or not visible/);
      assert.deepEqual(bySub.scan.scope.subscriptions, [SUB_DEV, missing]);
    });
  });

  it('follows the policy scope: include and exclude subscriptions, management groups and resource groups', async () => {
    const { parsePolicyText } = await import('../../src/config/policy.js');
    await withSimulator({}, async (sim) => {
      const only = await scanSimulator(sim, { policy: parsePolicyText(`scope: { include: { subscriptions: [${SUB_DEV}] } }`, 'p') });
      assert.ok(only.findings.length > 0 && only.findings.every((f) => f.subscriptionId === SUB_DEV));
      const notProd = await scanSimulator(sim, { policy: parsePolicyText(`scope: { exclude: { subscriptions: [${SUB_PROD}] } }`, 'p') });
      assert.ok(notProd.findings.every((f) => f.subscriptionId === SUB_DEV));
      assert.ok(!notProd.scan.coverage.subscriptions.some((c) => c.id === SUB_PROD), 'an excluded subscription is not scanned at all');
      assert.deepEqual(notProd.scan.scope.excluded?.subscriptions, [SUB_PROD]);
      // Every subscription is under the excluded management group: nothing to scan is a setup error, not a clean scan.
      await assert.rejects(
        scanSimulator(sim, { policy: parsePolicyText('scope: { exclude: { managementGroups: [contoso-ai] } }', 'p') }),
        /no subscription in scope: all 3 subscription\(s\) found are excluded by the policy/,
      );
      const rg = `/subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod`;
      const inRg = await scanSimulator(sim, { policy: parsePolicyText(`scope: { include: { resourceGroups: [${rg}] } }`, 'p') });
      assert.ok(inRg.findings.length > 0 && inRg.findings.every((f) => f.resourceGroup === 'rg-ai-prod'));
      const outRg = await scanSimulator(sim, { policy: parsePolicyText(`scope: { exclude: { resourceGroups: [${rg.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/').replace('/RESOURCEGROUPS/', '/resourceGroups/')}] } }`, 'p') });
      assert.ok(outRg.findings.length > 0 && outRg.findings.every((f) => f.resourceGroup !== 'rg-ai-prod'));
      const flags = await scanSimulator(sim, { scope: { subscriptions: [SUB_PROD] }, policy: parsePolicyText(`scope: { include: { subscriptions: [${SUB_DEV}] } }`, 'p') });
      assert.ok(flags.findings.every((f) => f.subscriptionId === SUB_PROD), 'an explicit scope (flags, settings) comes before the policy');
    });
  });

  it('a source that ignores filters and returns extra rows changes nothing', async () => {
    const tenant = await sampleTenant();
    const reference = await withSimulator({ tenant }, async (sim) => outcomes((await scanSimulator(sim)).findings));
    const everything = [...tenant.resources, ...tenant.networkresources, ...tenant.authorizationresources];
    await withSimulator(
      {
        tenant,
        fault: (r) => {
          if (r.kind !== 'graph' || String(r.body?.query).includes('microsoft.resources/subscriptions'))
            return undefined;
          // Let the simulator refuse the unreadable subscription as usual.
          if ((r.body?.subscriptions as string[] | undefined)?.includes(SUB_FORBIDDEN)) return undefined;
          // Every row of every table, twice, whatever was asked.
          const data = [...everything, ...everything];
          return {
            status: 200,
            body: { totalRecords: data.length, count: data.length, resultTruncated: 'false', data, facets: [] },
          };
        },
      },
      async (sim) => {
        const { findings } = await scanSimulator(sim);
        assert.deepEqual(outcomes(findings), reference);
      },
    );
  });

  it('reads tables tenant-wide when resourcecontainers lists no subscription', async () => {
    const tenant = { ...(await sampleTenant()), resourcecontainers: [] };
    await withSimulator({ tenant }, async (sim) => {
      const { scan, findings } = await scanSimulator(sim);
      assert.equal(scan.coverage.accounts, 19);
      assert.deepEqual(scan.coverage.subscriptions.map((s) => s.id).sort(), [SUB_PROD, SUB_DEV].sort());
      assert.equal(finding(findings, 'oai-batch-prod', 'ID-04').outcome, 'fail');
    });
  });

  it('reads perimeter configurations with api-version 2024-10-01, as the reference document asks', async () => {
    const seen = new Set<string>();
    const configurations = (r: { kind: string; path: string }) => r.kind === 'arm' && /\/networkSecurityPerimeterConfigurations/i.test(r.path);
    await withSimulator({ fault: (r) => void (configurations(r) && seen.add(new URLSearchParams(r.search).get('api-version') ?? '')) }, async (sim) => {
      await scanSimulator(sim);
    });
    assert.deepEqual([...seen], ['2024-10-01']);
  });

  it('stops with a clear error when the subscriptions cannot be listed', async () => {
    await withSimulator(
      { fault: () => ({ status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'expired' } } }) },
      async (sim) => {
        await assert.rejects(scanSimulator(sim), /cannot list subscriptions: HTTP 401/);
      },
    );
  });

  it('refuses a repeated paging token instead of looping', async () => {
    await withSimulator(
      {
        fault: (r) =>
          r.kind === 'graph' && String(r.body?.query).includes('accessrules')
            ? {
                status: 200,
                body: {
                  totalRecords: 99,
                  count: 0,
                  resultTruncated: 'false',
                  $skipToken: 'same',
                  data: [],
                  facets: [],
                },
              }
            : undefined,
      },
      async (sim) => {
        const { scan, findings } = await scanSimulator(sim);
        const table = scan.coverage.tables.find((t) => t.type.endsWith('/accessrules'));
        assert.equal(table?.status, 'failed');
        assert.match(table?.reason ?? '', /repeated a paging token/);
        assert.equal(scan.status, 'partial');
        assert.equal(finding(findings, 'oai-chat-prod', 'NSP-03').outcome, 'unknown', 'no verdict on access rules that were not read');
      },
    );
  });
});
