import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import ipaddr from 'ipaddr.js';
import { Webhook } from 'standardwebhooks';
import { backoffMs, retryAfterMs } from '../collect/throttle.js';
import { isTransientStatus } from '../collect/transient.js';
import type { WebhookConfig } from '../config/alerts.js';

/**
 * Webhook delivery: one POST per attempt, a timeout per attempt, retries with exponential backoff and
 * jitter on network errors, 408, 429 (honouring Retry-After) and 5xx, and none on other statuses.
 * Redirects are not followed. A destination whose address is not public unicast is refused unless
 * the webhook allows private destinations; the check runs in the socket's DNS lookup, so the address
 * checked is the address connected to (no DNS-rebinding window). The URL and secret are never
 * logged or returned in errors.
 *
 * CloudEvents deliveries are signed with the Standard Webhooks scheme (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`, HMAC-SHA256) by the `standardwebhooks` library
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
 */

export interface DeliveryOptions {
  /** Per attempt (ms). Default 10000. */
  readonly timeoutMs?: number;
  /** Attempts including the first (count). Default 5. */
  readonly maxAttempts?: number;
  /** First backoff (ms). Default 1000. */
  readonly baseDelayMs?: number;
  /** Longest wait between attempts (ms), Retry-After included. Default 60000. */
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface DeliveryRequest {
  /** Stable across retries and replays: receivers de-duplicate on it (`webhook-id`). */
  readonly deliveryId: string;
  readonly contentType: string;
  readonly body: string;
}

export interface DeliveryResult {
  readonly ok: boolean;
  readonly attempts: number;
  /** Last HTTP status, if any answer came. */
  readonly status?: number;
  /** Last error, secret-free, when not ok. */
  readonly error?: string;
  /** Waits between attempts (ms), for tests and logs. */
  readonly waits: readonly number[];
}

/** Thrown by the lookup for a destination that is not allowed; never retried. */
export class DestinationRefused extends Error {}

/** True when an address is public unicast (ipaddr.js range `unicast`, IPv4-mapped addresses unwrapped). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

/** A DNS lookup that refuses non-public addresses unless `allowPrivate`. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error);
      const refused = addresses.find((a) => !isPublicAddress(a.address));
      if (!allowPrivate && (refused || addresses.length === 0)) {
        return callback(new DestinationRefused('the destination resolves to a private, loopback or link-local address'));
      }
      if (options?.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  }) as unknown as LookupFunction;
}

interface Answer {
  readonly status: number;
  readonly header: (name: string) => string | undefined;
}

/**
 * Refuses a literal IP destination that is not public. Needed because Node connects to a literal
 * address without calling the `lookup` hook. @throws DestinationRefused
 */
export function checkLiteralDestination(url: URL, allowPrivate: boolean): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && isIP(host) !== 0 && !isPublicAddress(host)) {
    throw new DestinationRefused('the destination resolves to a private, loopback or link-local address');
  }
}

function post(webhook: WebhookConfig, headers: Record<string, string>, body: string, timeoutMs: number): Promise<Answer> {
  const url = webhook.url;
  checkLiteralDestination(url, webhook.allowPrivateDestinations);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: guardedLookup(webhook.allowPrivateDestinations), timeout: timeoutMs },
      (res: IncomingMessage) => {
        // Read (and drop) at most 64 KiB of the answer, then settle.
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > 65536) res.destroy();
        });
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            header: (name) => {
              const v = res.headers[name];
              return Array.isArray(v) ? v[0] : v;
            },
          });
        res.once('end', done);
        res.once('close', done);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (e: Error) => reject(e));
    req.end(body);
  });
}

/** Delivers one message to one webhook, with retries. Never throws. */
export async function deliver(webhook: WebhookConfig, request: DeliveryRequest, options: DeliveryOptions = {}): Promise<DeliveryResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const signer = webhook.secret ? new Webhook(webhook.secret) : undefined;
  const waits: number[] = [];
  let status: number | undefined;
  let error = 'not attempted';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const headers: Record<string, string> = { 'content-type': request.contentType, 'user-agent': 'perimeter-auditor' };
    if (signer) {
      const at = new Date(now());
      headers['webhook-id'] = request.deliveryId;
      headers['webhook-timestamp'] = String(Math.floor(at.getTime() / 1000));
      headers['webhook-signature'] = signer.sign(request.deliveryId, at, request.body);
    }
    let wait: number | undefined;
    try {
      const answer = await post(webhook, headers, request.body, timeoutMs);
      status = answer.status;
      if (status >= 200 && status < 300) return { ok: true, attempts: attempt, status, waits };
      error = `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`;
      if (!isTransientStatus(status)) return { ok: false, attempts: attempt, status, error, waits };
      wait = retryAfterMs(answer.header, now());
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      if (e instanceof DestinationRefused) return { ok: false, attempts: attempt, error, waits };
    }
    if (attempt === maxAttempts) break;
    const ms = Math.min(maxDelayMs, wait ?? backoffMs(attempt, baseDelayMs, maxDelayMs, random));
    waits.push(ms);
    await sleep(ms);
  }
  return { ok: false, attempts: maxAttempts, ...(status !== undefined ? { status } : {}), error, waits };
}
