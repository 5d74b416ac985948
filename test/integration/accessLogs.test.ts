import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { SimulatorRequest, SimulatorResponse } from '../../src/simulator/server.js';
import { finding, sampleTenant, scanSimulator, withSimulator } from '../helpers/sample.js';

/**
 * NSP-07's collection step under Log Analytics' failure modes, through `@azure/monitor-query-logs`
 * against the simulator: a partial answer makes only the accounts it leaves undecided `unknown`; a
 * 429 is paced and retried; an answer that is not Log Analytics' (a proxy's page, an empty 429) is
 * an unread query, never "no traffic". The sample tenant's rollout perimeter sends to workspace
 * log-nsp-prod (oai-rollout-prod with would-be-denied traffic, aisvc-ready-prod without); oai-lab-dev's
 * workspace refuses queries (403).
 */

const WS_PROD = '4d8f2a61-7b3c-4e95-a0d2-6c1e9f3b7a54';

/** Answers the first `n` Log Analytics queries with `answer`, then lets the simulator answer. */
function firstLogs(n: number, answer: SimulatorResponse): (r: SimulatorRequest) => SimulatorResponse | undefined {
  return (r) => (r.kind === 'logs' && r.sequence <= n ? answer : undefined);
}

describe('NSP-07 collection under Log Analytics failures', () => {
  it('a partial answer keeps a seen flow a fail and makes only the undecided accounts unknown', async () => {
    const tenant = await sampleTenant();
    (tenant.partialWorkspaces ?? []).push(WS_PROD);
    await withSimulator({ tenant }, async (sim) => {
      const { findings } = await scanSimulator(sim);
      const rollout = finding(findings, 'oai-rollout-prod', 'NSP-07');
      assert.equal(rollout.outcome, 'fail', 'a would-be-denied flow in a partial answer is certain');
      assert.match(rollout.message, /Logs partly read: .*partial result/);
      const ready = finding(findings, 'aisvc-ready-prod', 'NSP-07');
      assert.equal(ready.outcome, 'unknown', 'no flow seen in a partial answer is not "none"');
      assert.equal(ready.code, 'access-logs-unread');
      // Another workspace's account is not affected by this one's partial answer.
      assert.equal(finding(findings, 'oai-lab-dev', 'NSP-07').code, 'access-logs-unread');
      assert.match(finding(findings, 'oai-lab-dev', 'NSP-07').message, /403/);
    });
  });

  it('429 with Retry-After: the query is retried and the verdicts are the same as without it', async () => {
    const throttled = { status: 429, headers: { 'retry-after': '0' }, body: { error: { code: 'ThrottledError', message: 'too many requests' } } };
    await withSimulator({ fault: firstLogs(1, throttled) }, async (sim) => {
      const { findings } = await scanSimulator(sim);
      assert.equal(finding(findings, 'oai-rollout-prod', 'NSP-07').outcome, 'fail');
      assert.equal(finding(findings, 'aisvc-ready-prod', 'NSP-07').outcome, 'pass');
      assert.ok(sim.stats.logsRequests >= 3, `the refused query was sent again (${sim.stats.logsRequests} queries)`);
    });
  });

  it('429 without Retry-After is retried with backoff too (the SDK alone would not)', async () => {
    const bare = { status: 429, body: '' };
    await withSimulator({ fault: firstLogs(2, bare) }, async (sim) => {
      const { findings } = await scanSimulator(sim);
      assert.equal(finding(findings, 'aisvc-ready-prod', 'NSP-07').outcome, 'pass');
    });
  });

  it('an answer that is not Log Analytics\' (a proxy page) is an unread query, never "no traffic"', async () => {
    const page = { status: 200, headers: { 'content-type': 'text/html' }, body: '<html><body>Sign in to continue</body></html>' };
    await withSimulator({ fault: (r) => (r.kind === 'logs' ? page : undefined) }, async (sim) => {
      const { findings, scan } = await scanSimulator(sim);
      for (const name of ['oai-rollout-prod', 'aisvc-ready-prod']) {
        const f = finding(findings, name, 'NSP-07');
        assert.equal(f.outcome, 'unknown', `${name}: ${f.message}`);
        assert.equal(f.code, 'access-logs-unread');
        assert.match(f.message, /could not be queried/);
      }
      // The other rules of the same accounts are untouched.
      assert.equal(finding(findings, 'oai-rollout-prod', 'NSP-02').outcome, 'fail');
      assert.ok(scan.summary.byOutcome.pass > 0);
    });
  });

  it('a persistent refusal of every query leaves the scan standing, NSP-07 unknown with the reason', async () => {
    const refused = { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'try later' } } };
    await withSimulator({ fault: (r) => (r.kind === 'logs' ? refused : undefined) }, async (sim) => {
      const { findings } = await scanSimulator(sim, { throttle: { baseDelayMs: 1, maxAttempts: 2 } });
      const f = finding(findings, 'oai-rollout-prod', 'NSP-07');
      assert.equal(f.outcome, 'unknown');
      assert.match(f.message, /503/);
    });
  });
});
