import functions, { type Timer } from '@azure/functions';
import { resourceChanged } from '../../functions/resourceChanged.js';
import { scanRequested } from '../../functions/scanRequested.js';
import { scanShard } from '../../functions/scanShard.js';
import { scheduledScan } from '../../functions/scheduledScan.js';

/**
 * Child-process entry for handler tests: calls a function's handler directly, as the Functions host
 * would, with settings from the environment. `node invoke.js scheduledScan` or
 * `node invoke.js scanRequested '<queue message JSON>'`. Prints each log line as JSON on stdout;
 * exits 1 when the handler throws. (A separate process because the simulator's certificate must be
 * trusted through NODE_EXTRA_CA_CERTS, which Node reads at start.)
 */

// @azure/functions is CommonJS; InvocationContext is only on its default export under ESM.
const { InvocationContext } = functions;

const [name = '', message = '{}'] = process.argv.slice(2);
const context = new InvocationContext({
  invocationId: 'test-invocation',
  functionName: name,
  logHandler: (level, ...args) => process.stdout.write(`${JSON.stringify({ level, message: args.map(String).join(' ') })}\n`),
});
const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '2026-11-21T00:00:00Z', next: '2026-11-21T06:00:00Z', lastUpdated: '2026-11-21T00:00:00Z' },
};
try {
  if (name === 'scheduledScan') await scheduledScan(timer, context);
  else if (name === 'scanRequested') await scanRequested(JSON.parse(message), context);
  else if (name === 'scanShard') await scanShard(message, context);
  else if (name === 'resourceChanged') await resourceChanged(JSON.parse(message), context);
  else throw new Error(`unknown function ${name}`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ level: 'thrown', message: (error as Error).message })}\n`);
  process.exitCode = 1;
}
