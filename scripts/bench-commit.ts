import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { AlertLedger, BlobKeyValueStore } from '../src/alerts/ledger.js';
import { afterScanCommit } from '../src/events/scanState.js';
import type { AfterCommit } from '../src/pipeline/commit.js';
import { commitShardedScan } from '../src/shards.js';
import { StateStore } from '../src/store/accountState.js';
import { type CommitRun, peakRssMiB } from './lib/benchmark.js';

/**
 * One measured fan-in commit of `npm run bench:fanin`, in a process of its own so that its peak RSS
 * is its own: `commitShardedScan` of a fanned-out scan whose parts are all written and which is not
 * committed yet (scripts/bench-fanin.ts sets it up), as the worker that writes the last part runs it.
 * Prints one JSON line on stdout (`CommitRun`, scripts/lib/benchmark.ts).
 *
 *   BENCH_STORAGE_CONNECTION_STRING=… node dist/scripts/bench-commit.js --container NAME --scan-id ID
 *     [--after-commit]   the Function App's after-commit step too: the digest (no webhooks) and the
 *                        accounts' states (events/scanState.ts afterScanCommit, states in the same container)
 *     [--verbose]        the commit's log on stderr
 */

const { values } = parseArgs({
  options: {
    container: { type: 'string' },
    'scan-id': { type: 'string' },
    'after-commit': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
const connection = process.env.BENCH_STORAGE_CONNECTION_STRING;
if (!connection || !values.container || !values['scan-id']) throw new Error('BENCH_STORAGE_CONNECTION_STRING, --container and --scan-id are required');
const scanId = values['scan-id'];
const container = BlobServiceClient.fromConnectionString(connection).getContainerClient(values.container);
let started = performance.now();
const log = values.verbose ? (m: string) => process.stderr.write(`  commit ${((performance.now() - started) / 1000).toFixed(1)}s ${m}\n`) : () => {};

/** The state store, timing its sync from the scan (the rest of the after-commit step is the digest) and counting what it wrote. */
class TimedStateStore extends StateStore {
  syncMs: number | undefined;
  written: number | undefined;
  override async syncFromScan(states: Parameters<StateStore['syncFromScan']>[0], concurrency?: number): Promise<number> {
    const t0 = performance.now();
    try {
      this.written = await super.syncFromScan(states, concurrency);
      return this.written;
    } finally {
      this.syncMs = performance.now() - t0;
    }
  }
}

const state = values['after-commit'] ? new TimedStateStore(container) : undefined;
let afterStarted: number | undefined;
let afterCommitError: string | undefined;
let afterCommit: AfterCommit | undefined;
if (state) {
  // As the Function App composes it (src/app.ts compose), without webhooks.
  const ledger = new AlertLedger(new BlobKeyValueStore(container));
  afterCommit = async (committed) => {
    afterStarted = performance.now();
    try {
      await afterScanCommit(committed, { state, webhooks: [], ledger, log });
    } catch (error) {
      afterCommitError = error instanceof Error ? error.message : String(error);
      throw error;
    }
  };
}

started = performance.now();
const outcome = await commitShardedScan(scanId, { container, log, afterCommit });
const ended = performance.now();
const run: CommitRun = {
  outcome,
  wallMs: ended - started,
  ...(afterStarted === undefined ? {} : { afterCommitMs: ended - afterStarted }),
  ...(state?.syncMs === undefined ? {} : { stateSyncMs: state.syncMs }),
  ...(state?.written === undefined ? {} : { statesWritten: state.written }),
  ...(afterCommitError === undefined ? {} : { afterCommitError }),
  peakRssMiB: peakRssMiB(),
};
process.stdout.write(`${JSON.stringify(run)}\n`);
