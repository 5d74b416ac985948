// Prints the suite's closing line from vitest's JSON report, in the plain form any tool reads:
// `N passed, N failed` and `, N skipped` when any were skipped (.ci/run's last line).
//   node scripts/test-summary.mjs REPORT.json
// Exits 1 when a test failed, when no test ran, or when the report is missing.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  process.stdout.write(`no vitest report at ${file}: ${error.message}\n`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
if (failed > 0 || passed === 0 || report.success === false) process.exitCode = 1;
