import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { createHttpHeaders, createPipelineRequest, type PipelineResponse, RestError } from '@azure/core-rest-pipeline';
import { newStats, parseResetsAfter, throttlingPolicy } from '../../src/collect/throttle.js';
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
