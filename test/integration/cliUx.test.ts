import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { ScanDocument } from '../../src/store/scanDocument.js';
import { ROOT } from '../helpers/paths.js';
import { SUB_PROD, withSimulator } from '../helpers/sample.js';
import { runCli, startCli } from '../helpers/spawn.js';

/**
 * Issue 20, the CLI half: errors said whole and naming what failed, destinations probed before the
 * first Resource Graph request, --version and --help, the three input validations, and the
 * `simulate` command.
 */

const tmp = () => mkdtemp(join(tmpdir(), 'pa-ux-'));

/** A Blob connection string to a loopback port nothing listens on. */
const REFUSING_BLOB = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;';

describe('CLI errors: whole, in plain words, naming what failed', () => {
  it('no credential: the sign-in hint and every line of the credential chain, before any query', async () => {
    // A service principal whose authority refuses connections: the chain fails the same way on every
    // machine (signed in with az or not), without leaving it.
    const run = await runCli(['scan', '--output', await tmp()], {
      AZURE_TENANT_ID: '00000000-0000-0000-0000-000000000000',
      AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000000',
      AZURE_CLIENT_SECRET: 'not-a-secret',
      AZURE_AUTHORITY_HOST: 'https://127.0.0.1:1',
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /error: no Azure credential could get a token for Azure Resource Manager \(https:\/\/management\.azure\.com\), so nothing was scanned\./);
    assert.match(run.stderr, /Sign in with `az login`/);
    assert.match(run.stderr, /What each credential said:\n {2}EnvironmentCredential authentication failed\./);
    assert.doesNotMatch(run.stderr, /scan .* started/, 'no scan started');
    assert.doesNotMatch(run.stderr, /not-a-secret/, 'the secret is never printed');
  });

  it('an --output that is a file fails before the first Resource Graph request, naming the directory', async () => {
    await withSimulator({}, async (sim) => {
      const file = join(await tmp(), 'not-a-dir');
      await writeFile(file, 'x');
      const run = await runCli(['scan', '--arm-endpoint', sim.url, '--output', file], { NODE_EXTRA_CA_CERTS: sim.caFile });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, new RegExp(`error: the output directory ${file.replace(/[/\\.]/g, '\\$&')} is a file, not a directory`));
      assert.equal(sim.stats.graphRequests, 0, 'no Resource Graph request before the probe failed');
    });
  });

  it('a Blob endpoint that refuses connections fails before the first Resource Graph request, naming the store', async () => {
    await withSimulator({}, async (sim) => {
      const run = await runCli(['scan', '--arm-endpoint', sim.url, '--output', await tmp(), '--blob-connection-string', REFUSING_BLOB], {
        NODE_EXTRA_CA_CERTS: sim.caFile,
      });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /error: the Blob store http:\/\/127\.0\.0\.1:1\/devstoreaccount1\/audit cannot be written: connect ECONNREFUSED 127\.0\.0\.1:1 \(nothing listens there/);
      assert.doesNotMatch(run.stderr, /AccountKey|Eby8vdM02/, 'the connection string is never printed');
      assert.equal(sim.stats.graphRequests, 0, 'no Resource Graph request before the probe failed');
    });
  });
});

describe('CLI --version and --help', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const run = await runCli([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${pkg.version}\n`);
    }
  });

  it('--help has examples and the exit codes; scan --help lists the environment variables it reads', async () => {
    const top = await runCli(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Examples:\n {2}\$ az login && perimeter-auditor scan --output \.\/audit-output/);
    assert.match(top.stdout, /Exit codes \(scan\):\n {2}0 {2}the scan is complete/);
    assert.match(top.stdout, /^ {2}3 {2}the scan is partial/m);
    assert.match(top.stdout, /simulate \[options\]/);
    const scan = await runCli(['scan', '--help']);
    assert.equal(scan.code, 0);
    assert.match(scan.stdout, /Examples:/);
    assert.match(scan.stdout, /^ {2}2 {2}the scan could not run/m);
    const env = scan.stdout.slice(scan.stdout.indexOf('Environment variables read by scan:'));
    for (const name of ['AZURE_TENANT_ID', 'AZURE_CLIENT_SECRET', 'NODE_EXTRA_CA_CERTS', 'ALERT_WEBHOOKS', 'ALERT_WEBHOOK_<NAME>_URL', 'ALERT_MIN_SEVERITY', 'REPORT_BASE_URL', 'CI'])
      assert.ok(env.includes(name), `scan --help names ${name}`);
    const simulate = await runCli(['simulate', '--help']);
    assert.match(simulate.stdout, /graph-429\[:N\][\s\S]*arm-403:<subscription>[\s\S]*logs-403[\s\S]*slow:<ms>/);
  });
});

describe('CLI input validation', () => {
  it('report --format "" exits 2 having written nothing, naming the flag', async () => {
    const dir = await tmp();
    const run = await runCli(['report', '--scan', dir, '--format', '']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /error: --format is empty, so no report would be written: give one or more of json, csv, sarif, html/);
  });

  it('a policy expiresOn that does not exist (2026-02-30) is refused, naming the file, field and line', async () => {
    const file = join(await tmp(), 'policy.yaml');
    await writeFile(file, [
      'exemptions:',
      '  - name: sandbox',
      '    rules: [AUTH-01]',
      `    target: { subscription: ${SUB_PROD} }`,
      '    category: Waiver',
      '    justification: Sandbox accounts keep keys until the migration ends.',
      '    expiresOn: 2026-02-30',
      '',
    ].join('\n'));
    const run = await runCli(['policy', 'validate', file]);
    assert.equal(run.code, 2);
    assert.ok(run.stderr.includes(`${file}: exemptions.0.expiresOn (line 7): an ISO 8601 date that exists`), run.stderr);
  });

  it('a YAML alias bomb is refused, naming the file and the line', async () => {
    const file = join(await tmp(), 'bomb.yaml');
    await writeFile(file, [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      '',
    ].join('\n'));
    const run = await runCli(['policy', 'validate', file]);
    assert.equal(run.code, 2);
    assert.ok(run.stderr.includes(`${file} line 2: YAML aliases (*name) expand to too many nodes`), run.stderr);
  });
});

describe('perimeter-auditor simulate', () => {
  it('serves the sample tenant with faults, prints the lines to scan it, and closes cleanly on SIGINT', async () => {
    const sim = startCli(['simulate', '--tenant', 'sample', '--fault', 'graph-429:2', '--fault', `arm-403:${SUB_PROD}`]);
    try {
      const [, url] = await sim.waitFor(/at (https:\/\/127\.0\.0\.1:\d+)\n/);
      const [, caFile] = await sim.waitFor(/^ {2}export NODE_EXTRA_CA_CERTS=(\S+)$/m);
      assert.match(sim.stdout(), /serving the sample tenant \(20 accounts in 3 subscriptions\)/);
      assert.match(sim.stdout(), /faults: graph-429:2, arm-403:6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f/);
      assert.ok(sim.stdout().includes(`  npx perimeter-auditor scan --arm-endpoint ${url} --output ./simulated-output`));
      const out = await tmp();
      const scan = await runCli(['scan', '--arm-endpoint', url ?? '', '--output', out], { NODE_EXTRA_CA_CERTS: caFile ?? '' });
      assert.equal(scan.code, 1, scan.stderr);
      assert.match(scan.stderr, /HTTP 429 \(throttled\), attempt 2 of/, 'the injected 429s were retried, and said');
      const doc = JSON.parse(await readFile(join(out, 'scan.json'), 'utf8')) as ScanDocument;
      assert.ok(doc.coverage.deepInspection.failed > 0, 'the forbidden subscription\'s perimeter configurations were not read');
      sim.child.kill('SIGINT');
      const ended = await sim.exited;
      assert.equal(ended.code, 0, ended.stderr);
      assert.match(ended.stderr, /SIGINT: simulator closed after \d+ Resource Graph, \d+ ARM and \d+ Log Analytics request\(s\) \(\d+ throttled\)/);
    } finally {
      sim.child.kill('SIGKILL');
    }
  });

  it('refuses an unknown tenant or fault, naming the value', async () => {
    const tenant = await runCli(['simulate', '--tenant', 'huge']);
    assert.equal(tenant.code, 2);
    assert.match(tenant.stderr, /--tenant 'huge' is not a tenant: give sample, or generated:N/);
    const fault = await runCli(['simulate', '--fault', 'arm-403:nope']);
    assert.equal(fault.code, 2);
    assert.match(fault.stderr, /--fault 'arm-403:nope' needs a subscription ID \(a GUID\) \(accepted: graph-429\[:N\], arm-403:<subscription>, logs-403, slow:<ms>\)/);
  });
});

describe('progress lines', () => {
  it('plain lines say every log and retry line, and each quota wait of a second or more', async () => {
    const { plainProgress, wantsPlainProgress } = await import('../../src/terminalProgress.js');
    const lines: string[] = [];
    const p = plainProgress((t) => lines.push(t));
    p.log('scope: 3 subscription(s)');
    p.throttle.onRetry?.('Resource Graph query resources: HTTP 429 (throttled), attempt 2 of 6 in 1.0 s');
    p.throttle.onWait?.(2500, 'quota exhausted');
    p.throttle.onWait?.(400, 'request window full');
    p.throttle.onWait?.(4000, 'HTTP 429');
    assert.deepEqual(lines, [
      '[perimeter-auditor] scope: 3 subscription(s)\n',
      '[perimeter-auditor] Resource Graph query resources: HTTP 429 (throttled), attempt 2 of 6 in 1.0 s\n',
      '[perimeter-auditor] waiting 2.5 s: quota exhausted (Resource Graph allows 15 queries per 5 s)\n',
    ]);
    assert.equal(wantsPlainProgress({ isTTY: false }, {}), true, 'not a terminal');
    assert.equal(wantsPlainProgress({ isTTY: true }, { CI: 'true' }), true, 'CI set');
    assert.equal(wantsPlainProgress({ isTTY: true }, { CI: 'false' }), false);
    assert.equal(wantsPlainProgress({ isTTY: true }, {}), false);
  });
});
