// npm run infra:build — infra/ compiled and linted by Microsoft's Bicep compiler (scripts/infra/build.ts):
// restores the pinned compiler when missing, writes dist/infra/main.json and readermanagementgroup.json,
// prints every diagnostic, exits 1 on any error or warning (2 when there is no compiler).
import { fileURLToPath } from 'node:url';
import { buildInfra, formatDiagnostic, STAMP, TEMPLATES } from './infra/build.js';
import { BicepNotFoundError, findBicep } from './infra/compiler.js';

// --root <dir>: build another checkout (the tests build a changed copy of infra/).
const at = process.argv.indexOf('--root');
const root = at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fileURLToPath(new URL('../..', import.meta.url));
let bicep;
try {
  bicep = findBicep(root, { log: (line) => console.log(`infra:build: ${line}`) });
} catch (err) {
  if (!(err instanceof BicepNotFoundError)) throw err;
  console.error(`infra:build: ${err.message}`);
  process.exit(2);
}
console.log(`infra:build: Bicep ${bicep.version} from ${bicep.origin}`);
const report = buildInfra(root, bicep);
for (const d of report.diagnostics) console.error(formatDiagnostic(root, d));
if (report.output) console.error(report.output);
const summary = `${report.errors} error(s), ${report.warnings} warning(s), ${report.diagnostics.length - report.errors - report.warnings} info`;
if (report.errors > 0 || report.warnings > 0) {
  console.error(`infra:build: ${summary}: infra/ must compile and lint clean`);
  process.exit(1);
}
console.log(`infra:build: compiled ${Object.values(TEMPLATES).map((t) => `${t.source} → ${t.output}`).join(', ')}; linted ${report.linted.length} files: ${summary} (${STAMP})`);
