import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { buildPayload } from '../../src/alerts/payloads.js';
import { ContainerClient } from '@azure/storage-blob';
import type { ArmReadError } from '../../src/collect/armReads.js';
import { createAzureClients, developmentCredential } from '../../src/collect/clients.js';
import type { ThrottleOptions } from '../../src/collect/throttle.js';
import { defaultPolicy } from '../../src/config/policy.js';
import type { Finding } from '../../src/domain/rule.js';
import { complianceHeadline, coverageOf } from '../../src/reports/coverage.js';
import type { ReportSummary } from '../../src/reports/summary.js';
import { runScan } from '../../src/scan.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { BlobStore } from '../../src/store/stores.js';
import { finding, sampleTenant, scanSimulator, simulatorArm, SUB_DEV, SUB_FORBIDDEN, SUB_PROD, withSimulator } from '../helpers/sample.js';
import { runCli } from '../helpers/spawn.js';
import type { ArmSimulator, SimulatorRequest, SimulatorResponse } from '../../src/simulator/server.js';

/**
 * Issue 14, "Never claim what was not measured": each case reproduced against the simulator with the
 * fault injected there, asserting the exit code, the coverage line, the headline, and that no
 * `pass` or `fail` was given for data that was not read.
 */

const cli = runCli;

const isAccountsQuery = (r: SimulatorRequest) => r.kind === 'graph' && String(r.body?.query).includes('microsoft.cognitiveservices/accounts');
const isConfigurations = (r: SimulatorRequest) => r.kind === 'arm' && /networkSecurityPerimeterConfigurations/i.test(r.path);
const HTML_PAGE: SimulatorResponse = {
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: '<!doctype html><html><body><h1>Sign in to continue</h1><form action="/login"></form></body></html>',
};

/** Runs the scan through the SDK clients with the given retry settings, collecting progress and retry lines. */
async function scanWithLog(sim: ArmSimulator, throttle: ThrottleOptions): Promise<{ error: unknown; lines: string[] }> {
  const lines: string[] = [];
  const clients = createAzureClients({
    armEndpoint: sim.url,
    credential: developmentCredential(sim.url),
    caCertificates: sim.caCertificate,
    throttle: { window: { limit: 10_000, windowMs: 5000 }, ...throttle, onRetry: (m) => lines.push(m) },
  });
  try {
    await runScan({ scope: { subscriptions: [], managementGroups: [] }, policy: defaultPolicy(), clients, stores: [], log: (m) => lines.push(m) });
    return { error: undefined, lines };
  } catch (error) {
    return { error, lines };
  }
}

async function output(dir: string): Promise<{ scan: ScanDocument; findings: Finding[]; report: ReportSummary; html: string }> {
  const scan = JSON.parse(await readFile(join(dir, 'scan.json'), 'utf8')) as ScanDocument;
  const findings = (await readFile(join(dir, 'findings.ndjson'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Finding);
  const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as ReportSummary;
  const html = await readFile(join(dir, 'report.html'), 'utf8');
  return { scan, findings, report, html };
}

describe('never a verdict on data that was not read (issue 14)', () => {
  it('1a. accounts answered with truncated JSON on every attempt: exit 2, nothing written, no "100 % compliant"', async () => {
    await withSimulator({ fault: (r) => (isAccountsQuery(r) ? { status: 200, body: '{"totalRecords": 5, "data": [{"id": "/subscr' } : undefined) }, async (sim) => {
      const out = await mkdtemp(join(tmpdir(), 'pa-unread-'));
      const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /error: no subscription could be read: 0 of 3 in scope, so no account was read/);
      assert.match(run.stderr, /answer was not the expected JSON \(application\/json, \d+ bytes: the body is not JSON\)/);
      assert.equal(run.stdout, '', 'no summary, no headline, no percentage on stdout');
      assert.equal(existsSync(join(out, 'scan.json')), false, 'no scan is committed on nothing read');
      assert.equal(existsSync(join(out, 'findings.ndjson')), false);
    });
  });

  it('1b. a 429 storm without Retry-After until the attempts run out: the scan stops, each retry said in words', async () => {
    const storm = (r: SimulatorRequest): SimulatorResponse | undefined =>
      isAccountsQuery(r) ? { status: 429, body: { error: { code: 'RateLimiting', message: 'Too many requests' } } } : undefined;
    await withSimulator({ fault: storm }, async (sim) => {
      const { error, lines } = await scanWithLog(sim, { maxAttempts: 3, baseDelayMs: 1 });
      assert.match(String(error), /ScanSetupError: no subscription could be read: 0 of 3 in scope.*HTTP 429/);
      assert.ok(
        lines.some((l) => /^Resource Graph query resources \(microsoft\.cognitiveservices\/accounts\): HTTP 429 \(throttled\), attempt 2 of 3 in [\d.]+ s$/.test(l)),
        lines.join('\n'),
      );
    });
  });

  it('1c. a server that never answers: "no answer in 0.2 s" per attempt, then the scan stops with that reason', async () => {
    await withSimulator({ fault: (r) => (isAccountsQuery(r) ? { status: 200, hang: true } : undefined) }, async (sim) => {
      const { error, lines } = await scanWithLog(sim, { maxAttempts: 2, baseDelayMs: 1, timeoutMs: 200 });
      assert.match(String(error), /no subscription could be read: 0 of 3 in scope.*no answer in 0\.2 s, 2 attempt\(s\)/);
      assert.ok(lines.some((l) => /accounts\): no answer in 0\.2 s, attempt 2 of 2 in [\d.]+ s$/.test(l)), lines.join('\n'));
      assert.doesNotMatch(String(error), /aborted/i, 'the reason is in plain words, not the abort signal\'s text');
    });
  });

  for (const [name, wrong] of [
    ['an HTML page with 200 (a proxy)', HTML_PAGE],
    ['{} without value', { status: 200, body: {} }],
  ] as const) {
    it(`2. perimeter configurations answered with ${name}: NSP-05/NSP-06 unknown, counted as failed reads, never "drift"`, async () => {
      await withSimulator({ fault: (r) => (isConfigurations(r) ? wrong : undefined) }, async (sim) => {
        const { scan, findings } = await scanSimulator(sim);
        assert.ok(scan.coverage.deepInspection.accounts > 0);
        assert.equal(scan.coverage.deepInspection.failed, scan.coverage.deepInspection.accounts, 'every deep read failed');
        assert.equal(scan.status, 'partial');
        for (const rule of ['NSP-05', 'NSP-06']) {
          const f = finding(findings, 'oai-chat-prod', rule);
          assert.equal(f.outcome, 'unknown', `${rule}: ${f.message}`);
          assert.match(f.message, /answer was not the expected JSON \((text\/html|application\/json), [\d,]+ bytes/);
        }
        const deep = findings.filter((f) => (f.ruleId === 'NSP-05' || f.ruleId === 'NSP-06') && f.outcome !== 'not_applicable');
        assert.ok(deep.length > 0 && deep.every((f) => f.outcome === 'unknown'), 'no pass or fail on configurations never read');
      });
    });
  }

  it('2. a Resource Graph answer that is an HTML page is a failed read of that table, with its content type and size', async () => {
    const fault = (r: SimulatorRequest) => (r.kind === 'graph' && String(r.body?.query).includes('accessrules') ? HTML_PAGE : undefined);
    await withSimulator({ fault }, async (sim) => {
      const { scan, findings } = await scanSimulator(sim);
      const table = scan.coverage.tables.find((t) => t.type.endsWith('/accessrules'));
      assert.equal(table?.status, 'failed');
      assert.match(table?.reason ?? '', /answer was not the expected JSON \(text\/html, 98 bytes\)/);
      assert.equal(finding(findings, 'oai-chat-prod', 'NSP-03').outcome, 'unknown');
    });
  });

  it('2. the CLI on a partial scan: exit 3, the coverage line and the headline over accounts read; report.json and HTML agree', async () => {
    await withSimulator({ fault: (r) => (isConfigurations(r) ? HTML_PAGE : undefined) }, async (sim) => {
      const out = await mkdtemp(join(tmpdir(), 'pa-unread-'));
      // Only the deep rules run, so no fail reaches --fail-on high and the partial status decides the exit code.
      const policy = join(out, 'policy.json');
      await writeFile(policy, JSON.stringify({ rules: Object.fromEntries(['NSP-01', 'NSP-02', 'NSP-03', 'NSP-04', 'NET-01', 'NET-02', 'NET-03', 'NET-04', 'NET-05', 'NET-06', 'NET-08', 'ID-01', 'ID-02', 'ID-03', 'ID-04', 'AUTH-01', 'ENC-01'].map((id) => [id, { enabled: false }])) }));
      const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--policy', policy, '--subscription', SUB_PROD], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.equal(run.code, 3, run.stderr);
      const { scan, report, html } = await output(out);
      const read = scan.coverage.accounts;
      assert.match(run.stdout, new RegExp(`^coverage: ${read} accounts read in 1 of 1 subscription in scope; perimeter configurations of \\d+ accounts not read$`, 'm'));
      assert.match(run.stdout, new RegExp(`^headline: [\\d.]+% compliant \\(\\d+ of ${read} accounts read\\)$`, 'm'));
      assert.equal(report.coverage.accountsRead, read);
      assert.equal(report.coverage.subscriptionsInScope, 1);
      assert.match(report.coverage.text, /perimeter configurations of \d+ accounts not read/);
      assert.ok(report.accounts.compliantPercent !== null && report.accounts.compliantPercent < 100, 'NSP-05/06 unknowns are not compliant');
      assert.match(html, /<p class="headline partial" id="headline"><strong>[\d.]+% compliant \(\d+ of \d+ accounts read\)<\/strong> · <strong>partial scan<\/strong><br><span id="coverage">Coverage: \d+ accounts read in 1 of 1 subscription in scope;/);
    });
  });

  it('1. where no account could be read but some subscription was: the headline says so and no percentage is given', async () => {
    const tenant = await sampleTenant();
    // A readable subscription without AI accounts beside an unreadable one.
    tenant.resources.splice(0, tenant.resources.length, ...tenant.resources.filter((r) => r.subscriptionId !== SUB_DEV || !String(r.type).includes('cognitive')));
    await withSimulator({ tenant }, async (sim) => {
      const out = await mkdtemp(join(tmpdir(), 'pa-unread-'));
      const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--subscription', SUB_DEV, '--subscription', SUB_FORBIDDEN], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stdout, /^headline: No accounts could be read$/m);
      assert.match(run.stdout, /^coverage: 0 accounts read in 1 of 2 subscriptions in scope; 1 subscription unreadable \(its accounts are not counted\)$/m);
      const { report, html } = await output(out);
      assert.equal(report.accounts.compliantPercent, null);
      assert.equal(report.headline, 'No accounts could be read');
      assert.match(html, /<strong>No accounts could be read<\/strong>/);
      assert.match(html, /<div class="n">—<\/div><div class="l">compliance: no account was read<\/div>/);
      assert.doesNotMatch(html, /class="n">[\d.]+%</, 'no percentage card');
    });
  });

  it('3. scope typos fail before any request or name the management group; subscriptions and management groups combine', async () => {
    const tenant = await sampleTenant();
    tenant.managementGroups['mg-dev'] = [SUB_DEV];
    await withSimulator({ tenant }, async (sim) => {
      const env = { NODE_EXTRA_CA_CERTS: sim.caFile };
      const out = await mkdtemp(join(tmpdir(), 'pa-unread-'));
      const noMg = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--management-group', 'nosuchmg'], env);
      assert.equal(noMg.code, 2);
      assert.match(noMg.stderr, /error: management group 'nosuchmg' not found or not visible/);
      assert.equal(existsSync(join(out, 'scan.json')), false);

      const before = sim.stats.graphRequests + sim.stats.armRequests;
      const notGuid = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--subscription', 'not-a-guid'], env);
      assert.equal(notGuid.code, 2);
      assert.match(notGuid.stderr, /error: --subscription 'not-a-guid' is not a subscription ID/);
      const badMg = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--management-group', 'bad/group'], env);
      assert.equal(badMg.code, 2);
      assert.match(badMg.stderr, /--management-group 'bad\/group' is not a management group ID/);
      assert.equal(sim.stats.graphRequests + sim.stats.armRequests, before, 'refused before any request');

      const both = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--subscription', SUB_PROD, '--management-group', 'mg-dev', '--allow-partial'], env);
      assert.ok(both.code === 0 || both.code === 1, both.stderr);
      const { scan, findings } = await output(out);
      assert.deepEqual(scan.scope.subscriptions, [SUB_PROD]);
      assert.deepEqual(scan.scope.managementGroups, ['mg-dev']);
      assert.deepEqual(scan.coverage.subscriptions.map((s) => s.id).sort(), [SUB_DEV, SUB_PROD].sort(), 'the union of both');
      assert.ok(findings.some((f) => f.subscriptionId === SUB_DEV) && findings.some((f) => f.subscriptionId === SUB_PROD));
    });
  });

  it('4. report refuses a findings file cut at a line boundary, naming both numbers', async () => {
    await withSimulator({}, async (sim) => {
      const out = await mkdtemp(join(tmpdir(), 'pa-unread-'));
      const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.equal(run.code, 1, run.stderr);
      const { scan } = await output(out);
      const whole = await cli(['report', '--scan', out, '--output', join(out, 'whole')]);
      assert.equal(whole.code, 0, `an intact scan directory renders: ${whole.stderr}`);
      const lines = (await readFile(join(out, 'findings.ndjson'), 'utf8')).split('\n').filter(Boolean);
      const keep = 6 * scan.rules.length;
      await writeFile(join(out, 'findings.ndjson'), `${lines.slice(0, keep).join('\n')}\n`);
      const report = await cli(['report', '--scan', out, '--output', join(out, 'again')]);
      assert.equal(report.code, 2);
      const expected = scan.coverage.accounts * scan.rules.length;
      assert.match(report.stderr, new RegExp(`findings\\.ndjson has ${keep} finding\\(s\\), but scan\\.json says ${scan.coverage.accounts} account\\(s\\) × ${scan.rules.length} rule\\(s\\) = ${expected}`));
      assert.equal(existsSync(join(out, 'again', 'report.html')), false, 'nothing rendered from a short file');
    });
  });

  it('5. exempted fails are shown apart in the CLI summary and do not fail the run', async () => {
    await withSimulator({}, async (sim) => {
      const out = await mkdtemp(join(tmpdir(), 'pa-unread-'));
      const policy = join(out, 'policy.json');
      const exemptions = [SUB_PROD, SUB_DEV].map((sub, i) => ({ name: `all-${i}`, rules: 'all', target: { subscription: sub }, category: 'Waiver', justification: 'Accepted for this test run.' }));
      await writeFile(policy, JSON.stringify({ exemptions }));
      const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--policy', policy, '--allow-partial'], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.equal(run.code, 0, run.stderr);
      const { scan } = await output(out);
      const ex = scan.summary.exempted.failsBySeverity;
      assert.ok(ex.high > 0);
      assert.match(run.stdout, new RegExp(`^fails by severity: high 0 \\(\\+${ex.high} exempted\\), medium 0 \\(\\+${ex.medium} exempted\\), low 0 \\(\\+${ex.low} exempted\\)$`, 'm'));
    });
  });

  it('6. an https://[::1] endpoint connects; credentials in an endpoint URL are refused and never printed', async () => {
    await withSimulator({ host: '::1' }, async (sim) => {
      assert.match(sim.url, /^https:\/\/\[::1\]:\d+$/);
      const out = await mkdtemp(join(tmpdir(), 'pa-unread-'));
      const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--subscription', SUB_PROD], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /using the development token for the loopback endpoint https:\/\/\[::1\]:\d+/);
      assert.doesNotMatch(run.stderr, /ENOTFOUND/);
      assert.ok((await output(out)).scan.coverage.accounts > 0);
    });
    const out = await mkdtemp(join(tmpdir(), 'pa-unread-'));
    for (const [flag, url] of [
      ['--arm-endpoint', 'https://user:s3cr3t-value@127.0.0.1:9'],
      ['--blob-account-url', 'https://user:s3cr3t-value@account.blob.core.windows.net'],
      ['--blob-account-url', 'https://account.blob.core.windows.net/?sv=2024-01-01&sig=s3cr3t-value'],
      ['--blob-account-url', 'https://account.blob.core.windows.net/?SIG=s3cr3t-value'],
      ['--arm-endpoint', 'https://127.0.0.1:9/?access_token=s3cr3t-value'],
    ] as const) {
      const args = flag === '--arm-endpoint' ? ['scan', flag, url, '--output', out] : ['scan', '--arm-endpoint', 'https://127.0.0.1:9', flag, url, '--output', out];
      const run = await cli(args);
      assert.equal(run.code, 2, `${flag} ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`error: ${flag} must not carry (credentials|a query or fragment)`));
      assert.doesNotMatch(run.stderr + run.stdout, /s3cr3t/, 'the credential is never printed');
    }
  });

  it('1d. a server that sends its headers and then stalls its body: the deadline covers the body too', async () => {
    const fault = (r: SimulatorRequest): SimulatorResponse | undefined =>
      isAccountsQuery(r) ? { status: 200, stallBody: true, body: { totalRecords: 1, count: 1, resultTruncated: 'false', data: [{ id: 'x'.repeat(200) }] } } : undefined;
    await withSimulator({ fault }, async (sim) => {
      const { error, lines } = await scanWithLog(sim, { maxAttempts: 2, baseDelayMs: 1, timeoutMs: 200 });
      assert.match(String(error), /no subscription could be read: 0 of 3 in scope.*no answer in 0\.2 s, 2 attempt\(s\)/);
      assert.ok(lines.some((l) => /accounts\): no answer in 0\.2 s, attempt 2 of 2/.test(l)), lines.join('\n'));
    });
  });

  it('2. a 404 that is not Resource Manager\'s not-found answer (a proxy page) is not taken for "gone"', async () => {
    await withSimulator({ fault: (r) => (r.kind === 'arm' ? { ...HTML_PAGE, status: 404 } : undefined) }, async (sim) => {
      const arm = simulatorArm(sim);
      const id = `/subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts/oai-chat-prod`;
      await assert.rejects(arm.get(id, '2024-10-01'), (e: ArmReadError) => e.statusCode === 502 && /not Resource Manager's not-found error/.test(e.message));
      await assert.rejects(arm.list(`${id}/networkSecurityPerimeterConfigurations`, '2024-10-01'), /not Resource Manager's not-found error/);
    });
    await withSimulator({}, async (sim) => {
      // Resource Manager's own not-found answer still means "gone".
      assert.equal(await simulatorArm(sim).get(`/subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts/nope`, '2024-10-01'), undefined);
    });
  });

  it('3. with subscriptions and a management group named together, role assignments at the management group are read too', async () => {
    const tenant = await sampleTenant();
    tenant.managementGroups['mg-dev'] = [SUB_DEV];
    const scopes: unknown[] = [];
    const fault = (r: SimulatorRequest) => {
      if (r.kind === 'graph' && String(r.body?.query).includes('roleassignments')) scopes.push(r.body?.managementGroups ?? r.body?.subscriptions ?? 'tenant');
      return undefined;
    };
    await withSimulator({ tenant, fault }, async (sim) => {
      const { scan } = await scanSimulator(sim, { scope: { subscriptions: [SUB_PROD], managementGroups: ['mg-dev'] } });
      assert.deepEqual(scan.coverage.subscriptions.map((s) => s.id).sort(), [SUB_DEV, SUB_PROD].sort());
      assert.ok(scopes.some((s) => JSON.stringify(s) === JSON.stringify(['mg-dev'])), `role assignments read at the management group: ${JSON.stringify(scopes)}`);
    });
  });

  it('the percentage is over accounts read and never rounds up to 100 %; a SAS never reaches a printed location', () => {
    const coverage = { status: 'complete' as const, subscriptions: { inScope: 1, read: 1, unreadable: 0 }, accountsRead: 2000, tablesNotRead: 0, deepReadsFailed: 0, problems: 0, text: '' };
    assert.equal(complianceHeadline(coverage, 1999).text, '99.9% compliant (1999 of 2000 accounts read)');
    assert.equal(complianceHeadline(coverage, 2000).percent, 100);
    assert.equal(complianceHeadline({ ...coverage, accountsRead: 3 }, 1).percent, 33.3);
    const store = new BlobStore(new ContainerClient('https://acct.blob.core.windows.net/audit?sv=2024-01-01&sig=s3cr3t-value'));
    assert.equal(store.location, 'https://acct.blob.core.windows.net/audit');
  });

  it('the digest carries coverage in the CloudEvents and Teams formats (Slack: alerts.test.ts)', async () => {
    await withSimulator({}, async (sim) => {
      const { scan } = await scanSimulator(sim);
      const message = { sourceId: scan.scanId, kind: 'digest' as const, scanId: scan.scanId, time: scan.finishedAt, transitions: [], coverage: coverageOf(scan) };
      const event = JSON.parse(buildPayload('cloudevents', message, 'id').body) as { data: { coverage: Record<string, unknown> } };
      assert.deepEqual(event.data.coverage, {
        status: 'partial',
        accountsRead: 19,
        subscriptionsInScope: 3,
        subscriptionsRead: 2,
        subscriptionsUnreadable: 1,
        text: coverageOf(scan).text,
      });
      assert.match(buildPayload('teams', message, 'id').body, /Coverage \(partial scan\): 19 accounts read in 2 of 3 subscriptions in scope/);
    });
  });
});
