// npm run infra:check — the infrastructure drift check (scripts/infra/check.ts) on this checkout:
// prints each disagreement between infra/ and the code, exits 1 if there is any.
import { fileURLToPath } from 'node:url';
import { ALLOWED_ROLES, checkInfra, readInfraSources } from './infra/check.js';

// --root <dir>: check another checkout (the test runs it on a drifted copy).
const at = process.argv.indexOf('--root');
const root = at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fileURLToPath(new URL('../..', import.meta.url));
const problems = checkInfra(readInfraSources(root));
if (problems.length > 0) {
  for (const p of problems) console.error(`infra drift: ${p}`);
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`infra/ agrees with the code: settings, queues, Event Grid filter, roles (${ALLOWED_ROLES.map((r) => r.name).join(', ')})`);
