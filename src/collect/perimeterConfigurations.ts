import type { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import pLimit, { type LimitFunction } from 'p-limit';
import { type Observed, read, unread } from '../domain/observed.js';
import { idKey } from '../domain/resourceId.js';
import type { AccountSnapshot } from '../domain/snapshot.js';
import { AnswerShapeError, ArmPageSchema, checkAnswer } from './answers.js';
import { describeError } from './resourceGraph.js';

/**
 * Deep inspection: each account's `networkSecurityPerimeterConfigurations` from ARM
 * (`GET …/accounts/{name}/networkSecurityPerimeterConfigurations`, AZURE-FACTS.md), through
 * `@azure/arm-cognitiveservices` (its pager follows `nextLink`). Every page is checked for its shape
 * (answers.ts): the SDK's pager takes an answer without `value` — a proxy's HTML page, `{}` — for an
 * empty page, which would make NSP-05 report drift on data that was never read.
 */

/** Creates (or reuses) a Cognitive Services management client for a subscription. */
export type CognitiveServicesClientFactory = (subscriptionId: string) => CognitiveServicesManagementClient;

/** Options of `readPerimeterConfigurations`. */
export interface DeepReadOptions {
  /** Most requests in flight per subscription (count); also each subscription's starting level. */
  readonly maxConcurrency: number;
  /** Most requests in flight over all subscriptions (count). Default 64. */
  readonly maxTotal?: number;
  /**
   * The ARM client's count of 429 responses so far for a subscription (lower-case ID; RequestStats
   * `throttledBy`). ARM's read limits are per subscription (250-token bucket, 25 per second refill),
   * so each subscription has its own level: when its count grows, the requests in flight for it are
   * halved (at least 1); after as many successes in a row as are in flight, it grows by one again
   * (additive increase, multiplicative decrease). A throttled subscription does not slow the others.
   */
  readonly throttledIn?: (subscriptionId: string) => number;
}

/** The parts of an account the configuration URL needs. */
export type DeepTargetAccount = Pick<AccountSnapshot, 'id' | 'subscriptionId' | 'resourceGroup' | 'name'>;

/** One subscription's level of requests in flight, adapted to its 429s. */
class SubscriptionLevel {
  readonly limit: LimitFunction;
  private lastThrottled: number;
  private streak = 0;

  constructor(
    private readonly max: number,
    private readonly throttled: (() => number) | undefined,
  ) {
    this.limit = pLimit(max);
    this.lastThrottled = throttled?.() ?? 0;
  }

  /** After a request: halve on new 429s, grow by one after a run of successes. */
  adapt(): void {
    if (!this.throttled) return;
    const now = this.throttled();
    if (now > this.lastThrottled) {
      this.lastThrottled = now;
      this.streak = 0;
      this.limit.concurrency = Math.max(1, Math.floor(this.limit.concurrency / 2));
      return;
    }
    this.streak += 1;
    if (this.streak >= this.limit.concurrency && this.limit.concurrency < this.max) {
      this.streak = 0;
      this.limit.concurrency += 1;
    }
  }
}

/**
 * Reads the perimeter configurations of `accounts`, with a number of requests in flight per
 * subscription that adapts to that subscription's throttling (see `DeepReadOptions.throttledIn`),
 * under a cap over all subscriptions. A failed read is recorded for that account (never thrown), so
 * one account cannot stop a scan.
 *
 * @returns lower-case account ID → the raw configuration list, or why it could not be read
 */
export async function readPerimeterConfigurations(
  accounts: readonly DeepTargetAccount[],
  clientFor: CognitiveServicesClientFactory,
  options: DeepReadOptions | number,
): Promise<Map<string, Observed<readonly unknown[]>>> {
  const o: DeepReadOptions = typeof options === 'number' ? { maxConcurrency: options } : options;
  const max = Math.max(1, o.maxConcurrency);
  const total = pLimit(Math.max(1, o.maxTotal ?? 64));
  const levels = new Map<string, SubscriptionLevel>();
  const levelOf = (subscriptionId: string) => {
    const key = subscriptionId.toLowerCase();
    let level = levels.get(key);
    if (!level) {
      const throttledIn = o.throttledIn;
      level = new SubscriptionLevel(max, throttledIn ? () => throttledIn(key) : undefined);
      levels.set(key, level);
    }
    return level;
  };
  const results = new Map<string, Observed<readonly unknown[]>>();
  await Promise.all(
    accounts.map((account) => {
      const level = levelOf(account.subscriptionId);
      return level.limit(() => total(async () => {
        try {
          const list: unknown[] = [];
          const client = clientFor(account.subscriptionId);
          for await (const config of client.networkSecurityPerimeterConfigurations.list(account.resourceGroup, account.name, {
            onResponse: (raw) => {
              if (raw.status < 200 || raw.status >= 300) return;
              const page = checkAnswer(raw, ArmPageSchema);
              // The pager sends the bearer token wherever nextLink points: only to the endpoint it came from.
              if (page.nextLink && new URL(page.nextLink).origin !== new URL(raw.request.url).origin)
                throw new AnswerShapeError('nextLink points to another host than the endpoint (refused)');
            },
          })) {
            list.push(config);
          }
          results.set(idKey(account.id), read(list));
        } catch (error) {
          results.set(
            idKey(account.id),
            unread(`perimeter configurations could not be read: ${describeError(error).message}`),
          );
        } finally {
          level.adapt();
        }
      }));
    }),
  );
  return results;
}
