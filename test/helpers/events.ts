import { randomBytes } from 'node:crypto';

/**
 * An Event Grid schema event for a successful account write (`Microsoft.Resources.ResourceWriteSuccess`),
 * as the `resourceChanged` trigger hands it over; its subscription is the account's.
 */
export function accountWriteEvent(accountId: string): Record<string, unknown> {
  const sub = /^\/subscriptions\/([^/]+)/.exec(accountId)?.[1] ?? '';
  return {
    id: `evt-${randomBytes(6).toString('hex')}`,
    topic: `/subscriptions/${sub}`,
    subject: accountId,
    eventType: 'Microsoft.Resources.ResourceWriteSuccess',
    eventTime: new Date().toISOString(),
    dataVersion: '2',
    metadataVersion: '1',
    data: { operationName: 'Microsoft.CognitiveServices/accounts/write', resourceUri: accountId, subscriptionId: sub, status: 'Succeeded' },
  };
}
