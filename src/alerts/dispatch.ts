import type { ProgressLog } from '../collect/collector.js';
import type { WebhookConfig } from '../config/alerts.js';
import { type DeliveryOptions, type DeliveryResult, deliver } from './delivery.js';
import type { AlertLedger } from './ledger.js';
import { type AlertMessage, buildPayload } from './payloads.js';
import { atOrAbove } from './transitions.js';

/**
 * Sends one alert message to every webhook: only the transitions at or above each webhook's
 * severity, nothing when none remain, never twice for the same (message, webhook), and a dead
 * letter when every attempt failed. Never throws: a scan or an event evaluation never fails because
 * a webhook did.
 */

export type DispatchStatus = 'delivered' | 'dead-lettered' | 'skipped-nothing-to-send' | 'skipped-already-sent' | 'error';

export interface DispatchOutcome {
  readonly webhook: string;
  readonly deliveryId: string;
  readonly status: DispatchStatus;
  readonly transitions: number;
  readonly result?: DeliveryResult;
  readonly error?: string;
}

export interface DispatchOptions {
  readonly delivery?: DeliveryOptions;
  /** Replaceable for tests of the dispatcher alone. */
  readonly deliver?: typeof deliver;
  readonly log?: ProgressLog;
}

/** The delivery ID of a message for a webhook: stable, so retries and replays carry the same `webhook-id`. */
export function deliveryIdOf(message: AlertMessage, webhook: WebhookConfig): string {
  return `${message.sourceId}.${webhook.name}`;
}

export async function dispatchAlert(
  message: AlertMessage,
  webhooks: readonly WebhookConfig[],
  ledger: AlertLedger,
  options: DispatchOptions = {},
): Promise<DispatchOutcome[]> {
  const log = options.log ?? (() => {});
  const send = options.deliver ?? deliver;
  const outcomes: DispatchOutcome[] = [];
  for (const webhook of webhooks) {
    const transitions = atOrAbove(message.transitions, webhook.minSeverity);
    const deliveryId = deliveryIdOf(message, webhook);
    const base = { webhook: webhook.name, deliveryId, transitions: transitions.length };
    try {
      if (transitions.length === 0) {
        outcomes.push({ ...base, status: 'skipped-nothing-to-send' });
        continue;
      }
      if (await ledger.wasSent(deliveryId)) {
        outcomes.push({ ...base, status: 'skipped-already-sent' });
        log(`alert ${deliveryId}: already sent to ${webhook.name}`);
        continue;
      }
      const payload = buildPayload(webhook.format, { ...message, transitions }, deliveryId);
      const result = await send(webhook, { deliveryId, contentType: payload.contentType, body: payload.body }, options.delivery);
      if (result.ok) {
        await ledger.markSent(deliveryId, 'delivered');
        log(`alert ${deliveryId}: delivered to ${webhook.name} (${transitions.length} transition(s), ${result.attempts} attempt(s))`);
        outcomes.push({ ...base, status: 'delivered', result });
      } else {
        const key = await ledger.deadLetter({
          deliveryId,
          webhook: webhook.name,
          format: webhook.format,
          contentType: payload.contentType,
          body: payload.body,
          createdAt: message.time,
          attempts: result.attempts,
          lastError: result.error ?? 'unknown error',
        });
        await ledger.markSent(deliveryId, 'dead-lettered');
        log(`alert ${deliveryId}: ${webhook.name} failed after ${result.attempts} attempt(s) (${result.error}); kept as ${key}`);
        outcomes.push({ ...base, status: 'dead-lettered', result });
      }
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      log(`alert ${deliveryId}: ${webhook.name} could not be processed: ${text}`);
      outcomes.push({ ...base, status: 'error', error: text });
    }
  }
  return outcomes;
}

/**
 * `perimeter-auditor alerts replay`: re-sends every dead letter with its original body and delivery
 * ID to the webhook of the same name, removing it once delivered (so it is delivered exactly once).
 * A dead letter whose webhook is no longer configured, or that fails again, stays.
 */
export async function replayDeadLetters(
  webhooks: readonly WebhookConfig[],
  ledger: AlertLedger,
  options: DispatchOptions = {},
): Promise<{ delivered: number; failed: number; unknownWebhook: number }> {
  const log = options.log ?? (() => {});
  const send = options.deliver ?? deliver;
  const totals = { delivered: 0, failed: 0, unknownWebhook: 0 };
  for (const { key, letter } of await ledger.deadLetters()) {
    const webhook = webhooks.find((w) => w.name === letter.webhook);
    if (!webhook) {
      totals.unknownWebhook += 1;
      log(`${key}: webhook ${letter.webhook} is not configured; kept`);
      continue;
    }
    const result = await send(webhook, { deliveryId: letter.deliveryId, contentType: letter.contentType, body: letter.body }, options.delivery);
    if (result.ok) {
      await ledger.removeDeadLetter(key);
      totals.delivered += 1;
      log(`${key}: delivered to ${webhook.name}`);
    } else {
      await ledger.updateDeadLetter(key, { ...letter, attempts: letter.attempts + result.attempts, lastError: result.error ?? 'unknown error' });
      totals.failed += 1;
      log(`${key}: ${webhook.name} failed again (${result.error}); kept`);
    }
  }
  return totals;
}
