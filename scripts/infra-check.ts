// npm run infra:check — the infrastructure drift check (scripts/infra/check.ts) on the templates
// `npm run infra:build` compiled: prints each disagreement between infra/ and the code, exits 1 if there
// is any, 2 when there is nothing (current) to check or no compiler to evaluate it with.
import { fileURLToPath } from 'node:url';
import { readBuiltTemplates, StaleBuildError } from './infra/build.js';
import { ALLOWED_ROLES, checkInfra, readInfraSources } from './infra/check.js';
import { BicepNotFoundError, findBicep } from './infra/compiler.js';
import { BicepSession } from './infra/rpc.js';

// --root <dir>: check another checkout (the test runs it on a drifted copy, built with infra:build --root).
const at = process.argv.indexOf('--root');
const root = at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fileURLToPath(new URL('../..', import.meta.url));
let built;
let session;
try {
  built = readBuiltTemplates(root);
  session = new BicepSession(findBicep(root, { log: (line) => console.log(`infra:check: ${line}`) }));
} catch (err) {
  if (!(err instanceof StaleBuildError) && !(err instanceof BicepNotFoundError)) throw err;
  console.error(`infra:check: ${err.message}`);
  process.exit(2);
}
let problems: string[];
try {
  problems = await checkInfra({ root, sources: readInfraSources(root), templates: built.templates, session });
} finally {
  await session.close();
}
if (problems.length > 0) {
  for (const p of problems) console.error(`infra drift: ${p}`);
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`infra/ (compiled by Bicep ${built.compiler}) agrees with the code: settings, queues, Event Grid filter, export tables and data collection rule, workbook, Sentinel rule, roles (${ALLOWED_ROLES.map((r) => r.name).join(', ')})`);
