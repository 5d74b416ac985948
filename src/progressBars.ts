// cliUx --help test, and say in README "CLI reference" (Output, Environment variables) that a terminal shows bars.
import cliProgress from 'cli-progress';
import type { AzureClients } from './collect/clients.js';
import { PROGRESS_PREFIX, type ScanProgress } from './terminalProgress.js';

/**
 * Progress bars on a terminal (cli-progress): one line for Resource Graph (pages requested, rows of
 * the tables read so far, and the quota wait in progress), one for deep reads (ARM requests), one
 * for the commit (reports and stores); log and retry lines print above the bars. Counters are polled
 * every 200 ms from the clients (`graph.requested`, `armStats.requests`), never from timing.
 */
export function barProgress(stream: NodeJS.WriteStream): ScanProgress {
  const multibar = new cliProgress.MultiBar(
    { stream, format: '{label} {status}', hideCursor: true, clearOnComplete: true, stopOnComplete: false, autopadding: true, fps: 5 },
    cliProgress.Presets.shades_classic,
  );
  const graph = multibar.create(1, 0, { label: 'Resource Graph', status: 'starting' });
  const deep = multibar.create(1, 0, { label: 'deep reads    ', status: '0 account(s)' });
  const commit = multibar.create(1, 0, { label: 'reports       ', status: 'waiting for the findings' });
  let rows = 0;
  let waitUntil = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const line = (message: string) => multibar.log(`${PROGRESS_PREFIX} ${message}\n`);
  const render = (clients?: AzureClients) => {
    const waiting = waitUntil > Date.now() ? `, waiting ${((waitUntil - Date.now()) / 1000).toFixed(1)} s for the quota (15 queries per 5 s)` : '';
    if (clients) {
      graph.update(0, { status: `${clients.graph.requested} page(s), ${rows} row(s)${waiting}` });
      deep.update(0, { status: `${clients.armStats.requests} request(s)` });
    }
  };
  return {
    log: (message) => {
      const read = /^[\w./]+: (\d+) row\(s\)/.exec(message) ?? /^accounts: (\d+) row\(s\)/.exec(message);
      if (read) rows += Number(read[1]);
      if (/^shard \d+: /.test(message)) commit.update(0, { status: 'writing findings and reports' });
      if (/^written to /.test(message)) commit.update(0, { status: message });
      line(message);
    },
    throttle: {
      onRetry: line,
      onWait: (ms, reason) => {
        if (!/^(HTTP|network error)/.test(reason)) waitUntil = Math.max(waitUntil, Date.now() + ms);
      },
    },
    watch: (clients) => {
      timer = setInterval(() => render(clients), 200);
      timer.unref();
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      // cli-progress prints logged lines only at a redraw, and stop() does not redraw: flush them first.
      multibar.update();
      multibar.stop();
    },
  };
}
