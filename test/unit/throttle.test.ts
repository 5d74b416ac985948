import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { createHttpHeaders, createPipelineRequest, type PipelineResponse, RestError } from '@azure/core-rest-pipeline';
import { newStats, parseResetsAfter, throttlingPolicy, withRequestPriority } from '../../src/collect/throttle.js';
import { fakeClock } from '../helpers/clock.js';

function response(status: number, headers: Record<string, string> = {}): PipelineResponse {
  const request = createPipelineRequest({ url: 'https://127.0.0.1/x' });
  return { status, headers: createHttpHeaders(headers), request };
}

/** Runs the policy against scripted responses (a function standing in for the transport). */
async function run(script: Array<PipelineResponse | Error>, options: Parameters<typeof throttlingPolicy>[0] = {}) {
  const clock = fakeClock();
  const stats = newStats();
  const policy = throttlingPolicy({ now: clock.now, sleep: clock.sleep, random: () => 0.5, ...options }, stats);
  let i = 0;
  const result = await policy
    .sendRequest(createPipelineRequest({ url: 'https://127.0.0.1/x' }), async () => {
      const next = script[Math.min(i++, script.length - 1)];
      if (next instanceof Error) throw next;
      return next as PipelineResponse;
    })
    .then(
      (r) => ({ status: r.status }),
      (e: Error) => ({ error: e.message }),
    );
  return { result, waits: clock.waits, stats, calls: i };
}

describe('throttling policy', () => {
  it('honours Retry-After (seconds) on 429', async () => {
    const r = await run([response(429, { 'retry-after': '3' }), response(200)]);
    assert.deepEqual(r.result, { status: 200 });
    assert.deepEqual(r.waits, [3000]);
    assert.equal(r.stats.throttled, 1);
  });

  it('retries a 429 without Retry-After using the quota reset header, else exponential backoff', async () => {
    const withReset = await run([response(429, { 'x-ms-user-quota-resets-after': '00:00:04' }), response(200)]);
    assert.deepEqual(withReset.waits, [4000]);
    const bare = await run([response(429), response(429), response(429), response(200)], { baseDelayMs: 1000 });
    assert.deepEqual(bare.result, { status: 200 });
    // random() = 0.5 gives 75 % of the exponential step: 750, 1500, 3000 ms.
    assert.deepEqual(bare.waits, [750, 1500, 3000]);
  });

  it('retries 5xx and network errors, not other 4xx', async () => {
    const r500 = await run([response(503), response(200)]);
    assert.deepEqual(r500.result, { status: 200 });
    const reset = await run([new Error('socket hang up'), response(200)]);
    assert.deepEqual(reset.result, { status: 200 });
    assert.equal(reset.stats.retries, 1);
    const r403 = await run([response(403), response(200)]);
    assert.deepEqual(r403.result, { status: 403 });
    assert.equal(r403.calls, 1);
    const restError = await run([new RestError('bad', { statusCode: 400 }), response(200)]);
    assert.deepEqual(restError.result, { error: 'bad' });
  });

  it('is bounded in attempts and in each wait', async () => {
    const r = await run([response(429, { 'retry-after': '3600' })], { maxAttempts: 3, maxDelayMs: 10_000 });
    assert.deepEqual(r.result, { status: 429 });
    assert.equal(r.calls, 3);
    assert.ok(
      r.waits.every((w) => w <= 10_000),
      String(r.waits),
    );
  });

  it('paces to the client-side window (15 per 5 s)', async () => {
    const clock = fakeClock();
    const policy = throttlingPolicy({ now: clock.now, sleep: clock.sleep, window: { limit: 15, windowMs: 5000 } });
    const sentAt: number[] = [];
    for (let i = 0; i < 31; i++) {
      await policy.sendRequest(createPipelineRequest({ url: 'https://127.0.0.1/x' }), async () => {
        sentAt.push(clock.now());
        return response(200);
      });
    }
    for (let i = 15; i < sentAt.length; i++) {
      assert.ok((sentAt[i] ?? 0) - (sentAt[i - 15] ?? 0) >= 5000, `request ${i} too early`);
    }
    assert.equal((sentAt[30] ?? 0) - (sentAt[0] ?? 0), 10_000);
  });

  it('gives a freed slot of a full window to the most urgent waiter (withRequestPriority), in order of asking among equals', async () => {
    // A scheduler of its own: sleeps resolve in order of their end time (then of asking), and only
    // once every request has run as far as it can, so the order is decided by the policy alone.
    let t = 0;
    let seq = 0;
    const timers: { at: number; seq: number; wake: () => void }[] = [];
    const sleep = (ms: number) => new Promise<void>((wake) => timers.push({ at: t + ms, seq: seq++, wake }));
    const settle = () => new Promise<void>((r) => setImmediate(r));
    const policy = throttlingPolicy({ now: () => t, sleep, window: { limit: 2, windowMs: 1000 } });
    const order: string[] = [];
    const send = (name: string, priority?: number) => {
      const go = () =>
        policy.sendRequest(createPipelineRequest({ url: 'https://127.0.0.1/x' }), async () => {
          order.push(`${name}@${t}`);
          return response(200);
        });
      return priority === undefined ? go() : withRequestPriority(priority, go);
    };
    const all = Promise.all([send('a1', 1), send('a2', 1), send('a3', 1), send('b1', 0), send('b2', 0), send('b3', 0), send('c1')]);
    let done = false;
    void all.then(() => (done = true));
    for (let steps = 0; !done && steps < 1000; steps++) {
      await settle();
      timers.sort((x, y) => x.at - y.at || x.seq - y.seq);
      const next = timers.shift();
      if (!next) continue;
      t = Math.max(t, next.at);
      next.wake();
    }
    assert.ok(done, 'every request was sent');
    await all;
    // a1 and a2 take the empty window; at 1000 ms its two slots go to c1 (no priority: before all)
    // and b1 (b1 woke first, and one slot was left beside c1's); then b2, b3 (priority 0) and a3
    // (priority 1, though it asked before every b) last.
    assert.deepEqual(order, ['a1@0', 'a2@0', 'b1@1000', 'c1@1000', 'b2@2000', 'b3@2000', 'a3@3000']);
  });

  it('waits for the quota to reset when the server says none is left', async () => {
    const clock = fakeClock();
    const policy = throttlingPolicy({ now: clock.now, sleep: clock.sleep });
    const send = () =>
      policy.sendRequest(createPipelineRequest({ url: 'https://127.0.0.1/x' }), async () =>
        response(200, { 'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': '00:00:02' }),
      );
    await send();
    await send();
    assert.deepEqual(clock.waits, [2000]);
  });

  it('parses hh:mm:ss', () => {
    assert.equal(parseResetsAfter('00:00:05'), 5000);
    assert.equal(parseResetsAfter('01:02:03.5'), 3_723_500);
    assert.equal(parseResetsAfter('5'), undefined);
    assert.equal(parseResetsAfter(undefined), undefined);
  });
});
