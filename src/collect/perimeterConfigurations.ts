import type { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import pLimit from 'p-limit';
import { type Observed, read, unread } from '../domain/observed.js';
import { idKey } from '../domain/resourceId.js';
import type { AccountSnapshot } from '../domain/snapshot.js';
import { describeError } from './resourceGraph.js';

/**
 * Deep inspection: each account's `networkSecurityPerimeterConfigurations` from ARM
 * (`GET …/accounts/{name}/networkSecurityPerimeterConfigurations`, AZURE-FACTS.md), through
 * `@azure/arm-cognitiveservices` (its pager follows `nextLink`).
 */

/** Creates (or reuses) a Cognitive Services management client for a subscription. */
export type CognitiveServicesClientFactory = (subscriptionId: string) => CognitiveServicesManagementClient;

/**
 * Reads the perimeter configurations of `accounts` with at most `concurrency` requests in flight.
 * A failed read is recorded for that account (never thrown), so one account cannot stop a scan.
 *
 * @returns lower-case account ID → the raw configuration list, or why it could not be read
 */
export async function readPerimeterConfigurations(
  accounts: readonly AccountSnapshot[],
  clientFor: CognitiveServicesClientFactory,
  concurrency: number,
): Promise<Map<string, Observed<readonly unknown[]>>> {
  const limit = pLimit(Math.max(1, concurrency));
  const results = new Map<string, Observed<readonly unknown[]>>();
  await Promise.all(
    accounts.map((account) =>
      limit(async () => {
        try {
          const list: unknown[] = [];
          const client = clientFor(account.subscriptionId);
          for await (const config of client.networkSecurityPerimeterConfigurations.list(
            account.resourceGroup,
            account.name,
          )) {
            list.push(config);
          }
          results.set(idKey(account.id), read(list));
        } catch (error) {
          results.set(
            idKey(account.id),
            unread(`perimeter configurations could not be read: ${describeError(error).message}`),
          );
        }
      }),
    ),
  );
  return results;
}
