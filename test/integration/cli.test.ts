import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { Finding } from '../../src/domain/rule.js';
import { RULES } from '../../src/rules/index.js';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { SUB_DEV, withSimulator } from '../helpers/sample.js';
import { runCli } from '../helpers/spawn.js';

const cli = runCli;

async function readOutput(dir: string): Promise<{ scan: ScanDocument; findings: Finding[] }> {
  const scan = JSON.parse(await readFile(join(dir, 'scan.json'), 'utf8')) as ScanDocument;
  const findings = (await readFile(join(dir, 'findings.ndjson'), 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Finding);
  return { scan, findings };
}

describe('perimeter-auditor CLI', () => {
  it('scan against an HTTPS simulator writes the contract files and exits 1 on high fails', async () => {
    await withSimulator({}, async (sim) => {
      const out = await mkdtemp(join(tmpdir(), 'pa-cli-'));
      const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /\[perimeter-auditor\] scan .* started/, 'progress on stderr');
      assert.match(run.stdout, /^rule +severity +pass +fail/m, 'summary table on stdout');
      assert.match(run.stdout, /NSP-01 +high/);
      assert.match(run.stdout, /1 unreadable/);
      assert.doesNotMatch(run.stdout + run.stderr, /perimeter-auditor-development-token/, 'the token is never printed');
      const { scan, findings } = await readOutput(out);
      assert.equal(scan.schemaVersion, 1);
      assert.match(scan.scanId, /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-[a-z0-9]{6}$/);
      assert.equal(scan.status, 'partial');
      assert.equal(findings.length, scan.coverage.accounts * scan.rules.length);
      assert.equal(scan.summary.byOutcome.fail, findings.filter((f) => f.outcome === 'fail').length);
    });
  });

  it('--fail-on, --no-deep, --subscription and --policy shape the run', async () => {
    await withSimulator({}, async (sim) => {
      const out = await mkdtemp(join(tmpdir(), 'pa-cli-'));
      const policy = join(out, 'policy.json');
      await writeFile(policy, JSON.stringify({ rules: { 'NET-07': { enabled: true } } }));
      // The dev subscription has low-severity fails (NET-05), so --fail-on low exits 1.
      const run = await cli(
        [
          'scan',
          '--arm-endpoint',
          sim.url,
          '--output',
          out,
          '--no-deep',
          '--subscription',
          SUB_DEV,
          '--policy',
          policy,
          '--fail-on',
          'low',
        ],
        { NODE_EXTRA_CA_CERTS: sim.caFile },
      );
      assert.equal(run.code, 1, run.stderr);
      const { scan, findings } = await readOutput(out);
      assert.equal(sim.stats.armRequests, 0, '--no-deep makes no ARM call');
      assert.ok(findings.every((f) => f.subscriptionId === SUB_DEV));
      assert.ok(
        findings.some((f) => f.ruleId === 'NET-07'),
        'policy enabled NET-07',
      );
      assert.ok(!findings.some((f) => f.ruleId === 'NSP-05'));
      assert.equal(scan.scope.deepInspection, false);
    });
  });

  it('exits 3 when the scan is partial and no fail reaches --fail-on; --allow-partial makes it 0', async () => {
    await withSimulator({}, async (sim) => {
      const out = await mkdtemp(join(tmpdir(), 'pa-cli-'));
      const policy = join(out, 'policy.json');
      // Only AUTH-01 (medium) runs; --fail-on high: medium fails do not count.
      const rules = Object.fromEntries(
        [
          'NSP-01',
          'NSP-02',
          'NSP-03',
          'NSP-04',
          'NSP-05',
          'NSP-06',
          'NET-01',
          'NET-02',
          'NET-03',
          'NET-04',
          'NET-05',
          'NET-06',
          'NET-08',
          'ID-01',
          'ID-02',
          'ID-03',
          'ID-04',
          'ENC-01',
        ].map((id) => [id, { enabled: false }]),
      );
      await writeFile(policy, JSON.stringify({ rules }));
      const run = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--policy', policy], {
        NODE_EXTRA_CA_CERTS: sim.caFile,
      });
      // The sample tenant has an unreadable subscription: partial, so 3 — not a clean 0.
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /exit 3: the scan is partial/);
      const { findings, scan } = await readOutput(out);
      assert.equal(scan.status, 'partial');
      assert.ok(findings.some((f) => f.outcome === 'fail' && f.severity === 'medium'));
      const allowed = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--policy', policy, '--allow-partial'], {
        NODE_EXTRA_CA_CERTS: sim.caFile,
      });
      assert.equal(allowed.code, 0, allowed.stderr);
      const failing = await cli(['scan', '--arm-endpoint', sim.url, '--output', out, '--policy', policy, '--fail-on', 'medium'], {
        NODE_EXTRA_CA_CERTS: sim.caFile,
      });
      assert.equal(failing.code, 1, 'a fail at or above --fail-on wins over partial');
    });
  });

  it('exits 2 with a clear error when the scan cannot run', async () => {
    const out = await mkdtemp(join(tmpdir(), 'pa-cli-'));
    const http = await cli(['scan', '--arm-endpoint', 'http://127.0.0.1:9', '--output', out]);
    assert.equal(http.code, 2);
    assert.match(http.stderr, /must be an https URL/);
    const badPolicy = join(out, 'bad.json');
    await writeFile(badPolicy, '{"parameters":{"maxRuleAddresses":"wide"}}');
    const policy = await cli(['scan', '--arm-endpoint', 'https://127.0.0.1:9', '--policy', badPolicy]);
    assert.equal(policy.code, 2);
    assert.match(policy.stderr, /bad\.json: parameters\.maxRuleAddresses/);
    await withSimulator(
      { fault: () => ({ status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no access' } } }) },
      async (sim) => {
        const denied = await cli(['scan', '--arm-endpoint', sim.url, '--output', out], {
          NODE_EXTRA_CA_CERTS: sim.caFile,
        });
        assert.equal(denied.code, 2);
        assert.match(denied.stderr, /cannot list subscriptions: HTTP 403/);
      },
    );
  });

  it('alerts replay re-sends dead letters from a scan directory, then has nothing left', async () => {
    const { startReceiver } = await import('../../src/simulator/receiver.js');
    const { AlertLedger, DirectoryKeyValueStore } = await import('../../src/alerts/ledger.js');
    const out = await mkdtemp(join(tmpdir(), 'pa-replay-'));
    await new AlertLedger(new DirectoryKeyValueStore(out)).deadLetter({
      deliveryId: '2026-11-21T03-00-00Z-abcdef.HOOK',
      webhook: 'HOOK',
      format: 'slack',
      contentType: 'application/json',
      body: '{"text":"hello"}',
      createdAt: '2026-11-21T03:00:00.000Z',
      attempts: 5,
      lastError: 'HTTP 503',
    });
    const receiver = await startReceiver();
    try {
      const env = {
        ALERT_WEBHOOKS: JSON.stringify([{ name: 'HOOK', format: 'slack', allowPrivateDestinations: true }]),
        ALERT_WEBHOOK_HOOK_URL: `${receiver.url}/slack`,
      };
      const first = await cli(['alerts', 'replay', '--output', out], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /replayed: 1 delivered, 0 failed again/);
      const second = await cli(['alerts', 'replay', '--output', out], env);
      assert.match(second.stdout, /replayed: 0 delivered/);
      assert.equal(receiver.requests.length, 1);
      assert.equal(receiver.requests[0]?.body, '{"text":"hello"}');
    } finally {
      await receiver.close();
    }
  });

  it('policy validate names the field and line of an error; policy show prints the effective policy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pa-policy-'));
    const good = join(dir, 'good.yaml');
    await writeFile(good, 'rules:\n  NET-07: { enabled: true, severity: high }\n');
    const ok = await cli(['policy', 'validate', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /valid \(21 rules on, 0 exemption\(s\)\)/);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'rules:\n  NET-07:\n    enabled: yes please\n');
    const ko = await cli(['policy', 'validate', bad]);
    assert.equal(ko.code, 2);
    assert.match(ko.stderr, /bad\.yaml: rules\.NET-07\.enabled \(line 3\)/);
    const shown = await cli(['policy', 'show', '--policy', good]);
    const effective = JSON.parse(shown.stdout) as { rules: Record<string, { enabled: boolean; severity: string }>; parameters: { maxRuleAddresses: number } };
    assert.deepEqual(effective.rules['NET-07'], { enabled: true, severity: 'high' });
    assert.equal(effective.parameters.maxRuleAddresses, 65536);
  });

  it('rules --json prints the catalog', async () => {
    const run = await cli(['rules', '--json']);
    assert.equal(run.code, 0);
    const catalog = JSON.parse(run.stdout) as Array<{ id: string; enabledByDefault: boolean; references: string[] }>;
    assert.equal(catalog.length, RULES.length);
    assert.ok(catalog.every((r) => r.references.length > 0));
    const plain = await cli(['rules']);
    assert.match(plain.stdout, /^NET-07 +medium +off private-endpoint-required/m);
  });

  it('demo runs end to end with Azurite and the simulator, and stops what it started', async () => {
    const out = await mkdtemp(join(tmpdir(), 'pa-demo-'));
    const run = await cli(['demo', '--output', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /accounts: 19; findings: 380/);
    assert.match(run.stdout, /latest\.json → \d{4}-/);
    const { scan } = await readOutput(out);
    assert.equal(scan.coverage.accounts, 19);
  });
});
