import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, it } from 'vitest';
import type { Finding } from '../../src/domain/rule.js';
import type { Row, SimulatorTenant } from '../../src/simulator/server.js';
import { DirectoryStore } from '../../src/store/stores.js';
import { finding, sampleTenant, scanSimulator, SUB_PROD, withSimulator } from '../helpers/sample.js';
import { runCli } from '../helpers/spawn.js';

/**
 * Enforcement readiness (NSP-07) end to end on the sample tenant, through the real SDK clients and
 * the simulator's access logs: the verdicts of the four Learning-mode cases, the `readiness` command's
 * plan, and the plan applied to the simulator's perimeter — after which NSP-07 passes and NSP-03/NSP-04
 * still pass.
 */

const ROLLOUT = `/subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts/oai-rollout-prod`;
const ACCESS_RULE_TYPE = 'microsoft.network/networksecurityperimeters/profiles/accessrules';

/** The value of `--flag` in an az command line (the token after it, quotes kept). */
function flag(command: string, name: string): string | undefined {
  return new RegExp(`--${name} ("[^"]*"|\\S+)`).exec(command)?.[1];
}

/** `"['a','b']"` → ['a', 'b']; `"[{id:'x'}]"` → ['x']. */
function list(value: string | undefined): string[] {
  return [...(value ?? '').matchAll(/'([^']*)'/g)].map((m) => m[1] ?? '');
}

/**
 * Applies `az network perimeter profile access-rule create` lines to the simulator's model as
 * Resource Manager would: a PUT of the access rule under the named profile (replacing one of the same name).
 */
function applyCommands(tenant: SimulatorTenant, commands: readonly string[]): void {
  for (const c of commands) {
    const [sub, rg, perimeter, profile, name, direction] = ['subscription', 'resource-group', 'perimeter-name', 'profile-name', 'name', 'direction'].map((f) => flag(c, f));
    assert.ok(sub && rg && perimeter && profile && name && direction, `a complete command: ${c}`);
    const id = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/networkSecurityPerimeters/${perimeter}/profiles/${profile}/accessRules/${name}`;
    const row: Row = {
      id,
      name,
      type: ACCESS_RULE_TYPE,
      subscriptionId: sub,
      resourceGroup: rg,
      properties: {
        direction,
        addressPrefixes: list(flag(c, 'address-prefixes')),
        subscriptions: list(flag(c, 'subscriptions')).map((s) => ({ id: s })),
        fullyQualifiedDomainNames: list(flag(c, 'fqdn')),
        provisioningState: 'Succeeded',
      },
    };
    const at = tenant.networkresources.findIndex((r) => String(r.id).toLowerCase() === id.toLowerCase());
    if (at >= 0) tenant.networkresources.splice(at, 1, row);
    else tenant.networkresources.push(row);
  }
}

describe('enforcement readiness (NSP-07) on the sample tenant', () => {
  it('judges the four Learning-mode cases from the access logs', async () => {
    await withSimulator({}, async (sim) => {
      const { findings } = await scanSimulator(sim);
      const rollout = finding(findings, 'oai-rollout-prod', 'NSP-07');
      assert.equal(rollout.outcome, 'fail', rollout.message);
      assert.equal(rollout.code, 'would-be-denied-traffic');
      type Proposed = { name: string; addressPrefixes: string[]; subscriptions: string[]; fullyQualifiedDomainNames: string[] };
      const e = rollout.evidence as { flows: Array<{ destinationFqdn: string }>; proposedRules: Proposed[]; unplannedFlows: unknown[] };
      assert.equal(e.flows.length, 7, 'every would-be-denied flow in the window (the 30-day-old one is not)');
      // 203.0.113.10 and .11 are exactly a /31; 198.51.100.7 stays alone.
      assert.deepEqual(e.proposedRules.map((r) => r.name), ['readiness-inbound-addresses', 'readiness-inbound-subscriptions', 'readiness-outbound-fqdns']);
      assert.deepEqual(e.proposedRules[0]?.addressPrefixes, ['198.51.100.7/32', '203.0.113.10/31']);
      assert.deepEqual(e.proposedRules[1]?.subscriptions, ['/subscriptions/8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d']);
      // The logged destination, and the AI Search service ID-04 finds unreachable once Enforced (issue 21: one truth).
      assert.deepEqual(e.proposedRules[2]?.fullyQualifiedDomainNames, ['srch-docs-prod.search.windows.net', 'api.partner.example']);
      assert.equal(e.unplannedFlows.length, 2, 'the two hostile destinations are never planned');

      assert.equal(finding(findings, 'aisvc-ready-prod', 'NSP-07').outcome, 'pass');
      const noLogs = finding(findings, 'aisvc-foundry-prod', 'NSP-07');
      assert.equal(noLogs.code, 'access-logs-not-collected', noLogs.message);
      const refused = finding(findings, 'oai-lab-dev', 'NSP-07');
      assert.equal(refused.code, 'access-logs-unread', refused.message);
      assert.match(refused.message, /log-nsp-dev.*403/);
      // Enforced accounts are not judged.
      assert.ok(findings.filter((f) => f.ruleId === 'NSP-07' && f.outcome !== 'not_applicable').length === 4);
    });
  });

  it('readiness prints a plan whose commands, applied to the perimeter, leave nothing to block (NSP-03/NSP-04 still pass)', async () => {
    const tenant = await sampleTenant();
    await withSimulator({ tenant }, async (sim) => {
      const env = { NODE_EXTRA_CA_CERTS: sim.caFile };
      const first = await runCli(['readiness', '--account', ROLLOUT, '--arm-endpoint', sim.url], env);
      assert.equal(first.code, 1, first.stderr);
      assert.match(first.stdout, /^FAIL oai-rollout-prod/m);
      const commands = first.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('az network perimeter profile access-rule create'));
      assert.equal(commands.length, 3, first.stdout);
      assert.doesNotMatch(commands.join('\n'), /<script>|=cmd/, 'hostile log text never reaches a command');
      assert.match(first.stdout, /not planned: Outbound <script>alert\(1\)<\/script>: the destination is not an exact domain name/);

      applyCommands(tenant, commands);
      // The two hostile destinations cannot be named by an access rule: a team reviews them and stops that traffic.
      (tenant.traffic ?? []).splice(0, Infinity, ...(tenant.traffic ?? []).filter((t) => !/[<=]/.test(t.destinationFqdn ?? '')));

      const again = await runCli(['readiness', '--account', ROLLOUT, '--arm-endpoint', sim.url], env);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /^PASS oai-rollout-prod/m);
      const { findings } = await scanSimulator(sim);
      assert.equal(finding(findings, 'oai-rollout-prod', 'NSP-07').outcome, 'pass');
      assert.equal(finding(findings, 'oai-rollout-prod', 'NSP-03').outcome, 'pass');
      assert.equal(finding(findings, 'oai-rollout-prod', 'NSP-04').outcome, 'pass');
    });
  });

  it('hostile log fields reach the HTML and the CSV harmlessly', async () => {
    await withSimulator({}, async (sim) => {
      const dir = await mkdtemp(join(tmpdir(), 'pa-readiness-'));
      await scanSimulator(sim, { stores: [new DirectoryStore(dir)] });
      const html = await readFile(join(dir, 'report.html'), 'utf8');
      const section = html.slice(html.indexOf('<section id="readiness">'), html.indexOf('</section>', html.indexOf('<section id="readiness">')));
      assert.match(section, /<h2>Enforcement readiness<\/h2>/);
      assert.match(section, /<bdi>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/bdi>/);
      assert.doesNotMatch(html, /<script>alert/);
      assert.match(section, /button type="button" class="copy" data-copy="az-/);
      const rows = parse(await readFile(join(dir, 'report.csv'), 'utf8'), { columns: true }) as Array<Record<string, string>>;
      const nsp07 = rows.find((r) => r.ruleId === 'NSP-07' && r.accountName === 'oai-rollout-prod');
      assert.ok(nsp07, 'the finding is in the CSV');
      assert.match(nsp07.evidence ?? '', /=cmd\|/, 'the flow is in the evidence');
      for (const r of rows) for (const cell of Object.values(r)) assert.doesNotMatch(cell, /^[=+\-@\t\r]/, `no cell starts a formula: ${cell.slice(0, 40)}`);
    });
  });
});

export type { Finding };
