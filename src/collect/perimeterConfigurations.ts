import type { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import pLimit from 'p-limit';
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
  /** Most requests in flight (count); also the starting level. */
  readonly maxConcurrency: number;
  /**
   * The ARM client's count of 429 responses so far. When it grows, the number of requests in flight
   * is halved (at least 1); after as many successes in a row as are in flight, it grows by one again
   * (additive increase, multiplicative decrease), so deep inspection settles below the subscription's
   * read limit (ARM: 250-token bucket, 25 per second refill) instead of retrying into it.
   */
  readonly throttled?: () => number;
}

/** The parts of an account the configuration URL needs. */
export type DeepTargetAccount = Pick<AccountSnapshot, 'id' | 'subscriptionId' | 'resourceGroup' | 'name'>;

/**
 * Reads the perimeter configurations of `accounts`, with a number of requests in flight that adapts
 * to throttling (see `DeepReadOptions.throttled`). A failed read is recorded for that account (never
 * thrown), so one account cannot stop a scan.
 *
 * @returns lower-case account ID → the raw configuration list, or why it could not be read
 */
export async function readPerimeterConfigurations(
  accounts: readonly DeepTargetAccount[],
  clientFor: CognitiveServicesClientFactory,
  options: DeepReadOptions | number,
): Promise<Map<string, Observed<readonly unknown[]>>> {
  const o = typeof options === 'number' ? { maxConcurrency: options } : options;
  const max = Math.max(1, o.maxConcurrency);
  const limit = pLimit(max);
  let lastThrottled = o.throttled?.() ?? 0;
  let streak = 0;
  const adapt = () => {
    if (!o.throttled) return;
    const now = o.throttled();
    if (now > lastThrottled) {
      lastThrottled = now;
      streak = 0;
      limit.concurrency = Math.max(1, Math.floor(limit.concurrency / 2));
      return;
    }
    streak += 1;
    if (streak >= limit.concurrency && limit.concurrency < max) {
      streak = 0;
      limit.concurrency += 1;
    }
  };
  const results = new Map<string, Observed<readonly unknown[]>>();
  await Promise.all(
    accounts.map((account) =>
      limit(async () => {
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
          adapt();
        }
      }),
    ),
  );
  return results;
}
