import { app, type InvocationContext, type Timer } from '@azure/functions';
import { runScheduledScan } from '../src/app.js';
import { loadSettings } from '../src/config/settings.js';
import { scanOutcomeLine } from '../src/reports/coverage.js';

/**
 * Timer trigger: the scheduled tenant scan. Schedule from the `SCAN_SCHEDULE` setting (NCRONTAB,
 * default every 6 hours). A thin shell: settings → `runScheduledScan` → a one-line summary.
 * Throws (so the platform records a failed run) when settings are invalid or the scan cannot run.
 */
export async function scheduledScan(timer: Timer, context: InvocationContext): Promise<void> {
  if (timer.isPastDue) context.warn('scheduledScan is running late (past due)');
  const settings = loadSettings(process.env);
  const result = await runScheduledScan(settings, (message) => context.log(message));
  if (!result) return;
  if (!('scan' in result)) {
    context.log(`scan ${result.scanId} fanned out: ${result.shards.length} shard(s) queued on scan-shards`);
    return;
  }
  const { scan } = result;
  const s = scan.summary.byOutcome;
  context.log(`${scanOutcomeLine(scan)}; pass ${s.pass}, fail ${s.fail}, unknown ${s.unknown}, not applicable ${s.not_applicable}`);
}

app.timer('scheduledScan', {
  schedule: process.env.SCAN_SCHEDULE || '0 0 */6 * * *',
  runOnStartup: false,
  handler: scheduledScan,
});
