import { app, type InvocationContext } from '@azure/functions';
import { runRequestedScan, SCAN_QUEUE } from '../src/app.js';
import { loadSettings } from '../src/config/settings.js';
import { scanOutcomeLine } from '../src/reports/coverage.js';
import { isScanId } from '../src/store/scanDocument.js';

/**
 * Queue trigger: runs an on-demand scan requested by `POST /api/scans`. A malformed message is
 * logged with the reason and completed (never retried); a scan that cannot run throws so the queue
 * retries, then moves the message to the poison queue.
 */
export async function scanRequested(message: unknown, context: InvocationContext): Promise<void> {
  const scanId = typeof message === 'object' && message !== null ? (message as { scanId?: unknown }).scanId : undefined;
  if (typeof scanId !== 'string' || !isScanId(scanId)) {
    context.warn('ignored a scan request without a valid scanId');
    return;
  }
  const result = await runRequestedScan(loadSettings(process.env), scanId, (m) => context.log(m));
  if (result) context.log(scanOutcomeLine(result.scan));
}

app.storageQueue('scanRequested', { queueName: SCAN_QUEUE, connection: 'AzureWebJobsStorage', handler: scanRequested });
