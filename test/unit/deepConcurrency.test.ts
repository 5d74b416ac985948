import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import type { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import { readPerimeterConfigurations } from '../../src/collect/perimeterConfigurations.js';

/**
 * Deep inspection adapts its requests in flight per subscription (issue 17): ARM's read limits are
 * per subscription, so a throttled subscription is slowed down while the others keep their level.
 * The reads are held by the test and released one by one (no clock).
 */
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('deep inspection concurrency', () => {
  it('halves the level of the throttled subscription only, and caps the total', async () => {
    const inFlight = new Map<string, number>();
    const held: Array<{ sub: string; release: () => void }> = [];
    const throttled = new Map<string, number>();
    const clientFor = (sub: string) =>
      ({
        networkSecurityPerimeterConfigurations: {
          list: () =>
            (async function* () {
              inFlight.set(sub, (inFlight.get(sub) ?? 0) + 1);
              await new Promise<void>((release) => held.push({ sub, release }));
              inFlight.set(sub, (inFlight.get(sub) ?? 0) - 1);
              yield* [];
            })(),
        },
      }) as unknown as CognitiveServicesManagementClient;
    const accounts = ['a', 'b'].flatMap((sub) => Array.from({ length: 20 }, (_, i) => ({ id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/${sub}${i}`, subscriptionId: sub, resourceGroup: 'rg', name: `${sub}${i}` })));
    const done = readPerimeterConfigurations(accounts, clientFor, { maxConcurrency: 8, maxTotal: 64, throttledIn: (sub) => throttled.get(sub) ?? 0 });
    const release = async (sub: string) => {
      const i = held.findIndex((h) => h.sub === sub);
      held.splice(i, 1)[0]?.release();
      await flush();
    };
    await flush();
    assert.deepEqual([inFlight.get('a'), inFlight.get('b')], [8, 8], 'each subscription starts at its own level');
    // Subscription a is throttled: its level halves to 4, so it starts nothing until fewer than 4 are in flight.
    throttled.set('a', 1);
    await release('a');
    assert.equal(inFlight.get('a'), 7);
    await release('b');
    assert.equal(inFlight.get('b'), 8, 'b keeps its level');
    for (let i = 0; i < 3; i++) await release('a');
    assert.equal(inFlight.get('a'), 4, 'a settles at half its level');
    // After as many successes in a row as its level, it grows back by one.
    await release('a');
    assert.equal(inFlight.get('a'), 5);
    assert.equal(inFlight.get('b'), 8);
    while (held.length > 0) await release(held[0]?.sub ?? '');
    assert.equal((await done).size, 40);
  });

  it('never has more than the total cap in flight over all subscriptions', async () => {
    let inFlight = 0;
    let peak = 0;
    const held: Array<() => void> = [];
    const clientFor = () =>
      ({
        networkSecurityPerimeterConfigurations: {
          list: () =>
            (async function* () {
              inFlight += 1;
              peak = Math.max(peak, inFlight);
              await new Promise<void>((release) => held.push(release));
              inFlight -= 1;
              yield* [];
            })(),
        },
      }) as unknown as CognitiveServicesManagementClient;
    const accounts = Array.from({ length: 100 }, (_, i) => ({ id: `/subscriptions/s${i}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/x${i}`, subscriptionId: `s${i}`, resourceGroup: 'rg', name: `x${i}` }));
    const done = readPerimeterConfigurations(accounts, clientFor, { maxConcurrency: 8, maxTotal: 16 });
    await flush();
    assert.equal(inFlight, 16, '100 subscriptions: 16 in flight, the total cap, not 8');
    while (held.length > 0) {
      held.shift()?.();
      await flush();
    }
    assert.equal(peak, 16);
    assert.equal((await done).size, 100);
  });
});
