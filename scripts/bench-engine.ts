import { cpus } from 'node:os';
import { defaultPolicy } from '../src/config/policy.js';
import type { AccountSnapshot } from '../src/domain/snapshot.js';
import { activeRules, evaluateAccount } from '../src/engine/evaluate.js';
import { RULES } from '../src/rules/index.js';
import { aContext, accessRule, anAccount, aStorageAccount, association, configuration, PERIMETER, ROLES, roleAssignment, storageId, SUB } from './lib/builders.js';

/**
 * Engine throughput (issue: scale): rule evaluations per second on one core (this process), over a
 * mix of normalized accounts of the shapes the sample tenant has. Prints figures; asserts nothing.
 *
 *   npm run bench:engine [-- --accounts 20000] [-- --seconds 5]
 */
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ACCOUNTS = arg('accounts', 20_000);
const SECONDS = arg('seconds', 5);

const shapes: Array<(i: number) => AccountSnapshot> = [
  (i) => anAccount({ name: `a${i}`, associations: [association({ accessMode: 'Enforced' })], accessRules: [accessRule({ addressPrefixes: ['198.51.100.0/24'] })], roleAssignments: [roleAssignment(ROLES.blobContributor, storageId('st1'))], perimeterConfigurations: [configuration()], disableLocalAuth: true }),
  (i) => anAccount({ name: `b${i}`, network: { defaultAction: 'Deny', ipRules: ['203.0.113.0/24', '52.0.0.0/8'], bypass: 'AzureServices' } }),
  (i) => anAccount({ name: `c${i}`, kind: 'Face', identity: 'None', network: { ipRules: ['10.0.0.0/8', '2001:db8::/32'] } }),
  (i) => anAccount({ name: `d${i}`, kind: 'AIServices', associations: [association({ accessMode: 'Learning' })], roleAssignments: [roleAssignment(ROLES.owner, `/subscriptions/${SUB}`)], privateEndpointStatuses: ['Approved', 'Pending'] }),
];
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => (shapes[i % shapes.length] as (i: number) => AccountSnapshot)(i));
const policy = defaultPolicy();
const rules = activeRules(RULES, policy.enabledRules, true);
const ctx = aContext({ storage: [aStorageAccount('st1', [PERIMETER])] });

// Warm up the JIT, then measure whole passes until the time is up.
for (const a of accounts.slice(0, 2000)) evaluateAccount(a, rules, ctx);
let evaluations = 0;
const started = process.hrtime.bigint();
const deadline = started + BigInt(SECONDS) * 1_000_000_000n;
while (process.hrtime.bigint() < deadline) {
  for (const a of accounts) evaluations += evaluateAccount(a, rules, ctx).length;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(`engine: ${rules.length} rules × ${ACCOUNTS} accounts per pass, ${evaluations} rule evaluations in ${seconds.toFixed(2)} s on one core`);
console.log(`${Math.round(evaluations / seconds).toLocaleString('en-US')} rule evaluations per second (${cpus()[0]?.model ?? 'cpu'}, node ${process.version})`);
