import functions, { type Timer } from '@azure/functions';
import { scheduledScan } from '../../functions/scheduledScan.js';

// @azure/functions is CommonJS; InvocationContext is only on its default export under ESM.
const { InvocationContext } = functions;

/**
 * Child-process entry for the handler test: calls the `scheduledScan` handler directly, as the
 * Functions host would, with settings from the environment. Prints each log line as JSON on
 * stdout; exits 1 when the handler throws. (A separate process because the simulator's certificate
 * must be trusted through NODE_EXTRA_CA_CERTS, which Node reads at start.)
 */
const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '2026-11-21T00:00:00Z', next: '2026-11-21T06:00:00Z', lastUpdated: '2026-11-21T00:00:00Z' },
};
const context = new InvocationContext({
  invocationId: 'test-invocation',
  functionName: 'scheduledScan',
  logHandler: (level, ...args) =>
    process.stdout.write(`${JSON.stringify({ level, message: args.map(String).join(' ') })}\n`),
});
try {
  await scheduledScan(timer, context);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ level: 'thrown', message: (error as Error).message })}\n`);
  process.exitCode = 1;
}
