import { app, type InvocationContext } from '@azure/functions';
import { auditQueue, runScanShard } from '../src/app.js';
import { loadSettings } from '../src/config/settings.js';
import { parseShardMessage, poisonShardMessage, SHARD_POISON_QUEUE, SHARD_QUEUE, UnknownShardError } from '../src/shards.js';

/**
 * Queue trigger: one shard of a fanned-out scheduled scan (src/shards.ts). A message that can never
 * succeed (malformed, or naming no planned shard) is moved to `scan-shards-poison` with the reason
 * and completed; any other failure throws, so the queue delivers the message again (the host moves
 * it to the poison queue after `maxDequeueCount` attempts, host.json).
 */
export async function scanShard(message: unknown, context: InvocationContext): Promise<void> {
  const settings = loadSettings(process.env);
  const parsed = parseShardMessage(message);
  if ('error' in parsed) {
    context.warn(`shard message rejected: ${parsed.error}`);
    await poisonShardMessage(auditQueue(settings, SHARD_POISON_QUEUE), message, parsed.error);
    return;
  }
  try {
    const outcome = await runScanShard(settings, parsed, (m) => context.log(m));
    context.log(`shard ${parsed.shard} of ${parsed.scanId}: ${outcome}`);
  } catch (error) {
    if (!(error instanceof UnknownShardError)) throw error;
    context.warn(`shard message rejected: ${error.message}`);
    await poisonShardMessage(auditQueue(settings, SHARD_POISON_QUEUE), message, error.message);
  }
}

app.storageQueue('scanShard', { queueName: SHARD_QUEUE, connection: 'AzureWebJobsStorage', handler: scanShard });
