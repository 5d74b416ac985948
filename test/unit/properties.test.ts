import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import fc from 'fast-check';
import type { RawInventory } from '../../src/collect/inventory.js';
import { normalize } from '../../src/collect/normalize.js';
import { addressCount, parseAddressRange } from '../../src/domain/addresses.js';
import { type Observed, read, unread } from '../../src/domain/observed.js';
import type { Finding, RuleContext } from '../../src/domain/rule.js';
import type { AccountSnapshot } from '../../src/domain/snapshot.js';
import { evaluateAccount } from '../../src/engine/evaluate.js';
import { RULES } from '../../src/rules/index.js';
import {
  accessRule,
  aContext,
  anAccount,
  aStorageAccount,
  association,
  configuration,
  OTHER_PERIMETER,
  PERIMETER,
  PRINCIPAL,
  ROLES,
  roleAssignment,
  storageId,
  SUB,
} from '../helpers/builders.js';

/**
 * Property-based tests (fast-check) over the normalizer, the CIDR logic and every rule.
 */

const RUNS = { numRuns: 300 };

// Arbitrary values for each part of a snapshot, read or not.
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<Observed<T>> =>
  fc.oneof({ weight: 3, arbitrary: arb.map((v) => read(v)) }, { weight: 1, arbitrary: fc.constant(unread<T>('not read')) });

const kinds = fc.constantFrom('OpenAI', 'AIServices', 'Face', 'TextTranslation');
const ipRule = fc.constantFrom('203.0.113.0/24', '198.51.100.7', '10.0.0.0/8', '0.0.0.0/0', '52.0.0.0/15', '203.0.113.5/32', '2001:db8::/64', 'bad');
const network = fc.record({
  publicNetworkAccess: fc.constantFrom('Enabled', 'Disabled', 'SecuredByPerimeter'),
  defaultAction: fc.constantFrom('Allow', 'Deny'),
  bypass: fc.constantFrom('None', 'AzureServices'),
  ipRules: fc.array(ipRule, { maxLength: 3 }),
  virtualNetworkRules: fc.array(fc.constantFrom(`/subscriptions/${SUB}/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/s`, '/not/a/subnet'), { maxLength: 2 }),
});
const identityType = fc.constantFrom('None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned') as fc.Arbitrary<'None' | 'SystemAssigned' | 'UserAssigned' | 'SystemAssigned, UserAssigned'>;
const identity = identityType.map((type) => ({
  type,
  systemAssigned: type.includes('SystemAssigned'),
  userAssigned: type.includes('UserAssigned'),
  principalIds: type === 'None' ? [] : [PRINCIPAL],
}));
const associations = fc.array(
  fc.record({ accessMode: fc.constantFrom('Enforced', 'Learning', 'Audit'), provisioningState: fc.constantFrom('Succeeded', 'Failed'), perimeterId: fc.constantFrom(PERIMETER, OTHER_PERIMETER) }).map((o) => association(o)),
  { maxLength: 2 },
);
const rules = fc.array(
  fc.oneof(
    fc.array(ipRule, { maxLength: 2 }).map((p) => accessRule({ direction: 'Inbound', addressPrefixes: p })),
    fc.constantFrom('st1.blob.core.windows.net', '*.blob.core.windows.net').map((f) => accessRule({ direction: 'Outbound', fullyQualifiedDomainNames: [f] })),
  ),
  { maxLength: 3 },
);
const assignments = fc.array(
  fc.record({ role: fc.constantFrom(...Object.values(ROLES)), scope: fc.constantFrom(`/subscriptions/${SUB}`, `/subscriptions/${SUB}/resourceGroups/rg`, storageId('st1'), storageId('st2'), '/providers/Microsoft.Management/managementGroups/mg') }).map((o) => roleAssignment(o.role, o.scope)),
  { maxLength: 3 },
);
const configs = fc.array(
  fc.record({ provisioningState: fc.constantFrom('Succeeded', 'Failed'), logs: fc.boolean(), issue: fc.boolean() }).map((o) =>
    configuration({
      provisioningState: o.provisioningState,
      enabledLogCategories: o.logs ? ['NspPublicInboundPerimeterRulesDenied'] : [],
      provisioningIssues: o.issue ? [{ issueType: 'T', severity: 'Error', description: 'd' }] : [],
    }),
  ),
  { maxLength: 2 },
);

/** A snapshot whose every part is drawn independently, read or unread. */
const snapshot: fc.Arbitrary<AccountSnapshot> = fc
  .record({
    kind: maybe(kinds),
    network: maybe(network),
    identity: maybe(identity),
    disableLocalAuth: maybe(fc.boolean()),
    restrictOutboundNetworkAccess: maybe(fc.boolean()),
    encryptionKeySource: maybe(fc.constantFrom('Microsoft.CognitiveServices', 'Microsoft.KeyVault')),
    privateEndpointConnections: maybe(
      fc.array(fc.constantFrom('Approved', 'Pending', 'Rejected'), { maxLength: 2 }).map((list) => list.map((status, i) => ({ id: `pec-${i}`, status }))),
    ),
    associations: maybe(associations),
    accessRules: maybe(rules),
    roleAssignments: maybe(assignments),
    perimeterConfigurations: fc.option(maybe(configs), { nil: undefined }),
  })
  .map((parts) => ({ ...anAccount(), ...parts }));

/** Replaces every unread part of `base` by the read value from `fill`. */
function fillUnread(base: AccountSnapshot, fill: AccountSnapshot): AccountSnapshot {
  const out: Record<string, unknown> = { ...base };
  for (const key of Object.keys(base) as Array<keyof AccountSnapshot>) {
    const part = base[key] as unknown;
    const replacement = fill[key] as unknown;
    const isUnread = typeof part === 'object' && part !== null && 'ok' in part && (part as { ok: boolean }).ok === false;
    const hasRead = typeof replacement === 'object' && replacement !== null && 'ok' in replacement && (replacement as { ok: boolean }).ok;
    if (isUnread && hasRead) out[key] = replacement;
  }
  return out as unknown as AccountSnapshot;
}

const fullyRead = snapshot.filter((s) =>
  Object.values(s).every((v) => !(typeof v === 'object' && v !== null && 'ok' in v && (v as { ok: boolean }).ok === false)),
);

const ctx = aContext({ storage: [aStorageAccount('st1', [PERIMETER]), aStorageAccount('st2')] });

/**
 * The engine turns a rule that throws into `unknown` for that pair (and reports it to `onError`);
 * a property test that evaluated without `onError` would take a crashing rule for an unread value.
 * @throws the first error any rule threw.
 */
function evaluateStrict(account: AccountSnapshot, context: RuleContext = ctx): Finding[] {
  const errors: string[] = [];
  const findings = evaluateAccount(account, RULES, context, (ruleId, _id, e) => errors.push(`${ruleId}: ${e instanceof Error ? e.stack : String(e)}`));
  assert.deepEqual(errors, [], 'no rule throws');
  return findings;
}

describe('properties of the rules', () => {
  it('every rule gives exactly one finding, never throws, and is deterministic', () => {
    fc.assert(
      fc.property(snapshot, (account) => {
        const first = evaluateStrict(account);
        const second = evaluateStrict(account);
        assert.equal(first.length, RULES.length);
        assert.deepEqual(first, second);
      }),
      RUNS,
    );
  });

  it('a pass or a fail given while data is unread holds for every value that data could have', () => {
    fc.assert(
      fc.property(snapshot, fc.array(fullyRead, { minLength: 3, maxLength: 3 }), (account, fills) => {
        const verdicts = evaluateStrict(account);
        for (const fill of fills) {
          const filled = evaluateStrict(fillUnread(account, fill));
          for (const [i, v] of verdicts.entries()) {
            if (v.outcome === 'unknown') continue;
            assert.equal(filled[i]?.outcome, v.outcome, `${v.ruleId}: ${v.outcome} became ${filled[i]?.outcome} once unread data was read (${v.message})`);
          }
        }
      }),
      RUNS,
    );
  });

  it('an account whose every part is unread gets no pass and no fail from any rule', () => {
    const blind = fillUnread(anAccount(), anAccount());
    const allUnread: AccountSnapshot = Object.fromEntries(
      Object.entries(blind).map(([k, v]) => [k, typeof v === 'object' && v !== null && 'ok' in v ? unread('not read') : v]),
    ) as unknown as AccountSnapshot;
    for (const f of evaluateStrict({ ...allUnread, perimeterConfigurations: unread('not read') })) {
      assert.ok(f.outcome === 'unknown' || f.outcome === 'not_applicable', `${f.ruleId}: ${f.outcome}`);
    }
  });
});

describe('properties of the normalizer', () => {
  const json = fc.jsonValue({ maxDepth: 4 });
  const row = fc.oneof(
    json,
    fc.record({ id: fc.oneof(fc.string(), fc.constant(`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a`)), type: fc.constant('microsoft.cognitiveservices/accounts'), kind: json, identity: json, properties: json }),
  );
  it('never throws on arbitrary rows in any table, and is deterministic', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 5 }), fc.array(json, { maxLength: 3 }), fc.array(json, { maxLength: 3 }), (accounts, otherRows, roleRows) => {
        const raw: RawInventory = {
          subscriptions: [{ id: SUB, status: 'read' }],
          tables: {
            accounts: { rows: accounts },
            storageAccounts: { rows: otherRows },
            associations: { rows: otherRows },
            accessRules: { rows: otherRows },
            roleAssignments: { rows: roleRows },
          },
        };
        const a = normalize(raw);
        const b = normalize(raw);
        assert.deepEqual(JSON.stringify(a.accounts), JSON.stringify(b.accounts));
        for (const [i, account] of a.accounts.entries()) {
          const context = { params: ctx.params, tenant: a.tenant };
          assert.deepEqual(evaluateStrict(account, context), evaluateStrict(b.accounts[i] as AccountSnapshot, { params: ctx.params, tenant: b.tenant }));
        }
      }),
      RUNS,
    );
  });
});

describe('properties of the CIDR logic', () => {
  it('never throws on arbitrary text', () => {
    fc.assert(fc.property(fc.string(), (s) => void parseAddressRange(s)), RUNS);
  });
  it('counts 2^(32−p) addresses for every IPv4 prefix and 2^(128−p) for IPv6', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, p) => assert.equal(addressCount(`${ip}/${p}`), 2n ** BigInt(32 - p))),
      RUNS,
    );
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (ip, p) => {
        if (ip.includes('.')) return; // IPv4-embedded forms are not rule syntax
        assert.equal(addressCount(`${ip}/${p}`), 2n ** BigInt(128 - p));
      }),
      RUNS,
    );
  });
});
