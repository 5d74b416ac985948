import type { AzureClients } from './collect/clients.js';
import type { ProgressLog } from './collect/collector.js';
import type { ThrottleOptions } from './collect/throttle.js';

/**
 * What the CLI shows on stderr while a scan runs. The scan reports through three channels: its
 * `log` lines (ProgressLog: tables read, shards, the commit), the throttle's hooks (`onRetry`: a
 * repeated request, in words; `onWait`: every wait, in ms, and its reason, e.g. the Resource Graph
 * quota), and the clients' request counters (`clients.graph.requested`: Resource Graph pages;
 * `clients.armStats.requests`: deep reads), which a display may poll.
 *
 * `plainProgress` writes lines (not a terminal, or `CI` set): every log and retry line, and a
 * line for each quota wait of a second or more, so a paced scan never looks hung.
 */
export interface ScanProgress {
  /** A progress line (the scan's `log`). */
  readonly log: ProgressLog;
  /** The hooks to give the clients' throttle (createAzureClients `throttle`). */
  readonly throttle: Pick<ThrottleOptions, 'onRetry' | 'onWait'>;
  /** Starts following the clients' request counters (pages, deep reads); plain lines ignore them. */
  watch(clients: AzureClients): void;
  /** Ends the display (a bar display clears its bars); idempotent. */
  stop(): void;
}

/** The prefix of every progress line. */
export const PROGRESS_PREFIX = '[perimeter-auditor]';

/** Shortest wait (ms) that `plainProgress` reports with a line of its own. */
export const WAIT_LINE_MS = 1000;

/** Plain progress lines on `write` (stderr): `[perimeter-auditor] message`. */
export function plainProgress(write: (text: string) => void): ScanProgress {
  const line = (message: string) => write(`${PROGRESS_PREFIX} ${message}\n`);
  return {
    log: line,
    throttle: {
      onRetry: line,
      onWait: (ms, reason) => {
        // Retries announce their own waits (onRetry); the quota's and the window's are said here.
        if (ms >= WAIT_LINE_MS && !/^(HTTP|network error)/.test(reason)) line(`waiting ${(ms / 1000).toFixed(1)} s: ${reason} (Resource Graph allows 15 queries per 5 s)`);
      },
    },
    watch: () => undefined,
    stop: () => undefined,
  };
}

/**
 * True when progress should be plain lines: `stream` is not a terminal, or `CI` is set to anything
 * but an empty string, `0` or `false`.
 */
export function wantsPlainProgress(stream: { readonly isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  const ci = env.CI;
  return !stream.isTTY || (ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false');
}
