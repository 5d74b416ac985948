import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { Finding, Rule } from '../../src/domain/rule.js';
import type { AccountSnapshot } from '../../src/domain/snapshot.js';
import { evaluateAccount } from '../../src/engine/evaluate.js';
import { PLACEHOLDERS, placeholdersIn, remediationFor } from '../../src/reports/remediation.js';
import { findRule, RULES } from '../../src/rules/index.js';
import { aContext, accessRule, anAccount, association, configuration, PERIMETER, ROLES, roleAssignment, SUB } from '../helpers/builders.js';

function rule(id: string): Rule {
  const r = findRule(id);
  assert.ok(r, id);
  return r;
}

/** The finding `id` yields for `account`, as the engine evaluates it. */
function findingOf(id: string, account: AccountSnapshot, ctx = aContext()): Finding {
  const [f] = evaluateAccount(account, [rule(id)], ctx);
  assert.ok(f);
  return f;
}

/** The same account under another name, resource group and ID (hostile text, say). */
function renamed(account: AccountSnapshot, name: string, resourceGroup = account.resourceGroup): AccountSnapshot {
  return { ...account, name, resourceGroup, id: `/subscriptions/${SUB}/resourceGroups/${resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${name}` };
}

/**
 * The words bash would pass to `az`, each command of `command` (one per line, `&&`-joined), found
 * by running it with `az` defined as a function that prints its arguments, in `cwd`. The hostile
 * values of these tests hold no `<…>`, so what is left of that form is an unfilled placeholder.
 */
function words(command: string, cwd: string): string[][] {
  // A placeholder left unfilled would be a redirection: the test names it instead.
  const script = `az() { printf '%s\\0' "$@"; printf '\\n'; }\n${command.replace(/<([a-z][a-z0-9-]*)>/g, 'unfilled-$1')}\n`;
  const run = spawnSync('bash', ['-c', script], { cwd, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\0').slice(0, -1));
}

/** The value after `flag` in one command's words. */
const after = (args: readonly string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];

describe('remediationFor: the finding\'s names filled in', () => {
  it('NSP-02: the perimeter\'s own resource group and subscription, and the association, from the evidence', () => {
    const assoc = association({ accessMode: 'Learning', id: `${PERIMETER}/resourceAssociations/assoc-oai` });
    const f = findingOf('NSP-02', anAccount({ associations: [assoc] }));
    assert.equal(f.outcome, 'fail');
    const r = remediationFor(f, rule('NSP-02'));
    assert.equal(
      r.az,
      `az network perimeter association update --subscription ${SUB} --resource-group rg-net --perimeter-name nsp-main --association-name assoc-oai --access-mode Enforced`,
    );
    assert.match(r.bicep, /name: 'nsp-main'/);
    assert.match(r.bicep, /name: 'assoc-oai'/);
    assert.match(r.bicep, new RegExp(`privateLinkResource: \\{ id: '${f.resourceId}' \\}`));
    assert.deepEqual(r.unfilled, ['profile-resource-id'], 'the profile is not in NSP-02\'s evidence: left visible');
    assert.equal(r.description, rule('NSP-02').remediation.description);
  });

  it('NSP-01 with no association: the account\'s names, the perimeter left to choose', () => {
    const f = findingOf('NSP-01', anAccount({ name: 'oai-x' }));
    const r = remediationFor(f, rule('NSP-01'));
    assert.match(r.az, /--association-name oai-x-assoc /);
    assert.match(r.az, new RegExp(`--private-link-resource "\\{id:${f.resourceId}\\}"`));
    assert.deepEqual(r.unfilled, ['perimeter-subscription', 'perimeter-rg', 'perimeter', 'profile-resource-id']);
  });

  it('a command per target: each pending connection, each too-wide or invalid IP rule, each excessive role, each wide access rule', () => {
    const net06 = remediationFor(findingOf('NET-06', anAccount({ privateEndpointStatuses: ['Pending', 'Approved', 'Pending'] })), rule('NET-06'));
    assert.deepEqual(net06.az.split('\n').map((l) => /--id (\S+)/.exec(l)?.[1]), ['pec-0', 'pec-2']);

    const network = { defaultAction: 'Deny', ipRules: ['0.0.0.0/0', '203.0.113.7', '10.0.0.0/8'] };
    const net04 = remediationFor(findingOf('NET-04', anAccount({ network })), rule('NET-04'));
    assert.deepEqual(net04.az.split('\n').map((l) => /remove .* --ip-address (\S+)$/.exec(l)?.[1]), ['0.0.0.0/0', '10.0.0.0/8']);
    assert.deepEqual(net04.unfilled, ['caller-range'], 'the callers\' range is the user\'s to choose');
    const net03 = remediationFor(findingOf('NET-03', anAccount({ network })), rule('NET-03'));
    assert.deepEqual(net03.az.split('\n').map((l) => /--ip-address (\S+)$/.exec(l)?.[1]), ['0.0.0.0/0', '10.0.0.0/8']);

    const broad = roleAssignment(ROLES.owner, `/subscriptions/${SUB}`);
    const narrow = roleAssignment(ROLES.blobReader, `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa`);
    const id03 = remediationFor(findingOf('ID-03', anAccount({ roleAssignments: [broad, narrow] })), rule('ID-03'));
    assert.equal(id03.az, `az role assignment delete --ids ${broad.id}`);

    const wide = accessRule({ id: `${PERIMETER}/profiles/default/accessRules/allow-all`, name: 'allow-all', addressPrefixes: ['0.0.0.0/1'] });
    const ok = accessRule({ id: `${PERIMETER}/profiles/default/accessRules/office`, name: 'office', addressPrefixes: ['203.0.113.0/28'] });
    const nsp03 = remediationFor(findingOf('NSP-03', anAccount({ associations: [association()], accessRules: [wide, ok] })), rule('NSP-03'));
    assert.match(nsp03.az, /--resource-group rg-net --perimeter-name nsp-main --profile-name default --name allow-all /);
    assert.equal(nsp03.az.split('\n').length, 1);
  });

  it('NSP-05: the configuration with problems, and its perimeter', () => {
    const account = anAccount({
      associations: [association()],
      perimeterConfigurations: [configuration({ name: 'good' }), configuration({ name: 'bad', provisioningState: 'Failed' })],
    });
    const r = remediationFor(findingOf('NSP-05', account), rule('NSP-05'));
    assert.match(r.az, /\/networkSecurityPerimeterConfigurations\/bad\/reconcile/);
    assert.doesNotMatch(r.az, /<account-resource-id>|<configuration-name>/);
    assert.match(r.bicep, /name: 'nsp-main'/);
  });

  it('NSP-07: the access rules its finding proposes, with their own commands', () => {
    const f: Finding = {
      ...findingOf('AUTH-01', anAccount()),
      ruleId: 'NSP-07',
      outcome: 'fail',
      evidence: { proposedRules: [{ az: 'az network perimeter profile access-rule create --name r1', bicep: 'resource r1' }] },
    };
    const r = remediationFor(f, rule('NSP-07'));
    assert.equal(r.az, 'az network perimeter profile access-rule create --name r1');
    assert.equal(r.bicep, 'resource r1');
  });

  it('hostile names reach az as single literal words: nothing runs, nothing splits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pa-remediation-'));
    const name = 'oai\'; touch pwned1; echo \'$(touch pwned2)`touch pwned3` "x" *';
    const rg = 'rg $(touch pwned4) "y"';
    const perimeterId = `/subscriptions/${SUB}/resourceGroups/rg net's/providers/Microsoft.Network/networkSecurityPerimeters/nsp $(touch pwned5)`;
    const assoc = association({ perimeterId, accessMode: 'Learning', id: `${perimeterId}/resourceAssociations/a"b` });
    const account = renamed(anAccount({ identity: 'None', associations: [assoc] }), name, rg);

    for (const id of ['ID-01', 'NSP-02', 'AUTH-01']) {
      const f = findingOf(id, account);
      assert.equal(f.outcome, 'fail', id);
      const [args, ...more] = words(remediationFor(f, rule(id)).az, dir);
      assert.ok(args);
      assert.equal(more.length, 0);
      if (id === 'ID-01') {
        assert.equal(after(args, '--name'), name);
        assert.equal(after(args, '--resource-group'), rg);
      }
      if (id === 'NSP-02') {
        assert.equal(after(args, '--resource-group'), 'rg net\'s');
        assert.equal(after(args, '--perimeter-name'), 'nsp $(touch pwned5)');
        assert.equal(after(args, '--association-name'), 'a"b');
      }
      if (id === 'AUTH-01') assert.equal(after(args, '--ids'), account.id);
    }
    // Inside a double-quoted part of the template, the value is still one literal piece of the word.
    const nsp01 = findingOf('NSP-01', renamed(anAccount(), name, rg));
    const [args] = words(remediationFor(nsp01, rule('NSP-01')).az, dir);
    assert.equal(after(args ?? [], '--private-link-resource'), `{id:${account.id}}`);
    assert.equal(after(args ?? [], '--association-name'), `${name}-assoc`);
    for (const n of [1, 2, 3, 4, 5]) assert.equal(existsSync(join(dir, `pwned${n}`)), false, `pwned${n}`);
  });

  it('a value with a control or bidi character, or one read as an option, is not filled into az; Bicep escapes it', () => {
    const bidi = 'oai-\u202egnp.exe';
    const r = remediationFor(findingOf('ID-01', renamed(anAccount({ identity: 'None' }), bidi)), rule('ID-01'));
    assert.match(r.az, /--name <account>$/);
    assert.ok(!r.az.includes('\u202e'));
    assert.ok(r.bicep.includes('name: \'oai-\\u{202e}gnp.exe\''), r.bicep);
    assert.ok(r.unfilled.includes('account'));

    const option = remediationFor(findingOf('ID-01', renamed(anAccount({ identity: 'None' }), 'x', '--debug')), rule('ID-01'));
    assert.match(option.az, /--resource-group <rg> --name x$/);
  });

  it('Bicep strings: quote, backslash and interpolation escaped', () => {
    const perimeterId = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityPerimeters/p'\${x}\\`;
    const f = findingOf('NSP-02', anAccount({ associations: [association({ perimeterId, accessMode: 'Learning' })] }));
    assert.ok(remediationFor(f, rule('NSP-02')).bicep.includes(`name: 'p\\'\\\${x}\\\\'`));
  });

  it('every placeholder of the catalog is a known one, and every az template is runnable text once filled', () => {
    for (const r of RULES) {
      for (const p of placeholdersIn(`${r.remediation.az}\n${r.remediation.bicep}`)) assert.ok(p in PLACEHOLDERS, `${r.id}: <${p}>`);
    }
  });
});
