import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'vitest';
import type { AzureClients } from '../../src/collect/clients.js';
import { barProgress } from '../../src/progressBars.js';
import { wantsPlainProgress } from '../../src/terminalProgress.js';

/** A stream that says it is a terminal, collecting what is written. */
function fakeTerminal(): NodeJS.WriteStream & { text: () => string } {
  const chunks: string[] = [];
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(stream, { isTTY: true, columns: 120, rows: 40, text: () => chunks.join('') });
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return stream;
}

describe('progress display', () => {
  it('plain lines when stderr is not a terminal or CI is set; bars otherwise', () => {
    assert.equal(wantsPlainProgress({ isTTY: false }, {}), true);
    assert.equal(wantsPlainProgress({ isTTY: true }, { CI: 'true' }), true);
    assert.equal(wantsPlainProgress({ isTTY: true }, { CI: '0' }), false);
    assert.equal(wantsPlainProgress({ isTTY: true }, {}), false);
  });

  it('bars on a terminal: log and retry lines print above them, the counters come from the clients', async () => {
    const stream = fakeTerminal();
    const display = barProgress(stream);
    const clients = { graph: { requested: 7 }, armStats: { requests: 3 } } as unknown as AzureClients;
    display.watch(clients);
    display.log('subscriptions: 3 row(s) in 1 page(s)');
    display.throttle.onRetry?.('Resource Graph query resources: HTTP 429, attempt 2 of 6 in 1.0 s');
    display.stop();
    display.stop();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const text = stream.text();
    assert.match(text, /\[perimeter-auditor\] subscriptions: 3 row\(s\) in 1 page\(s\)/);
    assert.match(text, /\[perimeter-auditor\] Resource Graph query resources: HTTP 429/);
  });
});
