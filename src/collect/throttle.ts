import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import {
  isRestError,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
  type SendRequest,
} from '@azure/core-rest-pipeline';
import { isTransientStatus } from './transient.js';

/**
 * Request pacing and retries for ARM and Resource Graph, as one pipeline policy.
 *
 * Why our own policy: the SDK ignores Resource Graph's quota headers and does not retry a 429 that
 * has no `Retry-After` (AZURE-FACTS.md, "SDK behaviour seen on this machine"). Clients that use this
 * policy set `retryOptions.maxRetries = 0` so retries happen here only, bounded in count and time.
 *
 * Sources: Resource Graph throttling — 15 queries per 5-second window per user, headers
 * `x-ms-user-quota-remaining` (count) and `x-ms-user-quota-resets-after` (`hh:mm:ss`)
 * (https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests).
 */

export interface ThrottleOptions {
  /** Longest wait for one attempt's answer (ms); a request without an answer by then is retried. Default 30000. */
  readonly timeoutMs?: number;
  /** Attempts per request including the first (count). Default 6. */
  readonly maxAttempts?: number;
  /** First backoff delay (ms), doubled per attempt, with jitter. Default 1000. */
  readonly baseDelayMs?: number;
  /** Longest single wait (ms), whatever a server asks for. Default 60000. */
  readonly maxDelayMs?: number;
  /** Client-side cap: at most `limit` requests per `windowMs` (Resource Graph: 15 per 5000 ms). */
  readonly window?: { readonly limit: number; readonly windowMs: number };
  /** Injectable clock for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Randomness for jitter in [0, 1). */
  readonly random?: () => number;
  /** Told about every wait (ms) and its reason; for progress output. */
  readonly onWait?: (ms: number, reason: string) => void;
  /**
   * Told about every attempt that is repeated, in plain words ("Resource Graph query resources
   * (microsoft.cognitiveservices/accounts): no answer in 30 s, attempt 2 of 6"), so that a slow
   * tenant never looks hung. The CLI prints it on stderr; Functions log it.
   */
  readonly onRetry?: (message: string) => void;
  /**
   * The scope a service's limits apply to, by request (e.g. ARM's subscription: its read limits are
   * per subscription). After a 429 only requests of the same scope go one at a time, and 429s are
   * counted per scope (`RequestStats.throttledBy`). Default: one scope for every request (Resource
   * Graph's quota is per user).
   */
  readonly scopeOf?: (request: PipelineRequest) => string;
}

/** The priority of the requests a caller makes (`withRequestPriority`), across its awaits. */
const requestPriority = new AsyncLocalStorage<number>();

/**
 * Runs `work` with its requests at `priority` (lower goes first) for a client-side window
 * (`ThrottleOptions.window`): a request that found the window full is counted as waiting, and a
 * free slot is left to the waiting requests of lower priority numbers first; among equals, whichever
 * polls first. Requests made outside any priority rank before every prioritised one. Only the
 * window's waits are ordered: after a 429 (`Retry-After`, one request at a time) or when the
 * server's quota header says none is left, requests go in the order they poll. A scan runs each
 * shard at its shard index, so while its Resource Graph window is full the earlier shards' pages
 * go first, the order the commit reads their findings in (pipeline/commit.ts).
 */
export function withRequestPriority<T>(priority: number, work: () => Promise<T>): Promise<T> {
  return requestPriority.run(priority, work);
}

/**
 * Thrown when no attempt of a request got an answer within `timeoutMs`: the reason in plain words
 * ("no answer in 30 s, 6 attempts"), instead of the abort signal's text.
 */
export class NoAnswerError extends Error {
  override readonly name = 'NoAnswerError';
}

/**
 * What a request is, in words and without secrets: a Resource Graph query by its table and type
 * (and "next page" when it carries a paging token), an ARM request by its method and path.
 */
export function describeRequest(request: PipelineRequest): string {
  const url = new URL(request.url);
  if (/\/providers\/Microsoft\.ResourceGraph\/resources$/i.test(url.pathname) && typeof request.body === 'string') {
    try {
      const body = JSON.parse(request.body) as { query?: unknown; options?: { $skipToken?: unknown } };
      const query = typeof body.query === 'string' ? body.query : '';
      const table = /^\s*([A-Za-z]+)/.exec(query)?.[1] ?? 'query';
      const type = /\btype\s*=~\s*'([^']+)'/.exec(query)?.[1];
      return `Resource Graph query ${table}${type ? ` (${type})` : ''}${body.options?.$skipToken ? ', next page' : ''}`;
    } catch {
      return 'Resource Graph query';
    }
  }
  return `${request.method} ${url.pathname}`;
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** Counters a policy keeps (counts). */
export interface RequestStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Responses with status 429. */
  throttled: number;
  /** Responses with status 429 by throttling scope (`ThrottleOptions.scopeOf`; '' when there is one scope). */
  throttledBy: Map<string, number>;
  /** Requests repeated after a retriable failure. */
  retries: number;
}

export function newStats(): RequestStats {
  return { requests: 0, throttled: 0, throttledBy: new Map(), retries: 0 };
}

/** Parses `hh:mm:ss` (optionally with fractional seconds) into ms; undefined when malformed. */
export function parseResetsAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(value.trim());
  if (!m) return undefined;
  return Math.round((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000);
}

/**
 * Reads a server's requested wait (ms): `retry-after-ms` / `x-ms-retry-after-ms`, else `Retry-After`
 * as delta seconds or an HTTP date (RFC 9110 §10.2.3). Undefined when absent or malformed.
 * @param header looks up a response header by lower-case name
 */
export function retryAfterMs(header: (name: string) => string | undefined, now: number): number | undefined {
  const ms = header('retry-after-ms') ?? header('x-ms-retry-after-ms');
  if (ms && /^\d+$/.test(ms.trim())) return Number(ms);
  const value = header('retry-after');
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** `retryAfterMs` for a pipeline response. */
export function parseRetryAfter(response: PipelineResponse, now: number): number | undefined {
  return retryAfterMs((name) => response.headers.get(name), now);
}

/**
 * Exponential backoff with jitter (ms): base × 2^(attempt−1), capped at `max`, scaled by a random
 * factor in [0.5, 1) so that clients retrying together spread out.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(exp * (0.5 + random() / 2));
}

/**
 * Creates the pacing-and-retry policy. One instance per client: the quota state it keeps is the
 * caller's (per user) quota as the server reported it.
 */
export function throttlingPolicy(options: ThrottleOptions = {}, stats: RequestStats = newStats()): PipelinePolicy {
  const maxAttempts = options.maxAttempts ?? 6;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  const sent: number[] = [];
  let blockedUntil = 0;
  // Requests sent and not yet answered (count), and the server's quota as last reported, less what
  // was sent since: with several requests in flight, a "remaining: 1" answer does not mean one more
  // may go when two others are already on their way.
  let inFlight = 0;
  let quotaEstimate: number | undefined;
  // After the first 429 in a scope this client sends one request of that scope at a time for the rest
  // of its life: a throttled server gets no parallel load, and a refused request retries before any
  // other of its scope is sent.
  const serial = new Set<string>();
  const inFlightBy = new Map<string, number>();
  const scopeOf = options.scopeOf ?? (() => '');
  let quotaResetAt = 0;
  // Requests waiting for a slot of the window, by priority (count each): a freed slot is left to a
  // waiter of a lower priority number (withRequestPriority).
  const waiting = new Map<number, number>();
  const moreUrgent = (priority: number) => {
    let n = 0;
    for (const [p, count] of waiting) if (p < priority) n += count;
    return n;
  };
  const ownSends = (t: number) => {
    if (!options.window) return 0;
    while (sent.length > 0 && (sent[0] ?? 0) <= t - options.window.windowMs) sent.shift();
    return sent.length;
  };

  async function wait(ms: number, reason: string): Promise<void> {
    const bounded = Math.min(Math.max(0, ms), maxDelayMs);
    if (bounded <= 0) return;
    options.onWait?.(bounded, reason);
    await sleep(bounded);
  }

  async function pace(scope: string): Promise<void> {
    const priority = requestPriority.getStore() ?? Number.NEGATIVE_INFINITY;
    let queued = false;
    const queue = (on: boolean) => {
      if (on === queued) return;
      queued = on;
      const n = (waiting.get(priority) ?? 0) + (on ? 1 : -1);
      if (n === 0) waiting.delete(priority);
      else waiting.set(priority, n);
    };
    try {
      await paceAt(scope, priority, queue);
    } finally {
      queue(false);
    }
  }

  async function paceAt(scope: string, priority: number, queue: (on: boolean) => void): Promise<void> {
    for (;;) {
      const t = now();
      if (blockedUntil > t) {
        await wait(blockedUntil - t, 'quota exhausted');
        continue;
      }
      if (serial.has(scope) && (inFlightBy.get(scope) ?? 0) > 0) {
        await sleep(20);
        continue;
      }
      if (quotaEstimate !== undefined && t >= quotaResetAt) quotaEstimate = undefined;
      if (quotaEstimate !== undefined && quotaEstimate <= 0) {
        await wait(quotaResetAt - t, 'quota exhausted');
        continue;
      }
      if (options.window && ownSends(t) >= options.window.limit) {
        queue(true);
        await wait((sent[0] ?? t) + options.window.windowMs - t, 'request window full');
        continue;
      }
      // A free slot this request may not take: the waiters more urgent than it take the free slots first.
      if (options.window && options.window.limit - ownSends(t) <= moreUrgent(priority)) {
        queue(true);
        await sleep(20);
        continue;
      }
      if (options.window) sent.push(t);
      if (quotaEstimate !== undefined) quotaEstimate -= 1;
      return;
    }
  }

  function observeQuota(response: PipelineResponse): void {
    const remaining = response.headers.get('x-ms-user-quota-remaining');
    const resets = parseResetsAfter(response.headers.get('x-ms-user-quota-resets-after'));
    if (remaining === undefined || !/^\d+$/.test(remaining.trim()) || resets === undefined) return;
    const t = now();
    // When this client's own window is full, its send times (exact) decide the next send; the
    // header's whole seconds would add up to a second per window. Otherwise (the quota is shared
    // with other clients of the same user) the header decides.
    if (options.window && ownSends(t) >= options.window.limit) {
      quotaEstimate = undefined;
      return;
    }
    quotaEstimate = Number(remaining) - inFlight;
    quotaResetAt = t + resets;
  }

  const backoff = (attempt: number) => backoffMs(attempt, baseDelayMs, maxDelayMs, random);

  return {
    name: 'perimeterAuditorThrottling',
    async sendRequest(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
      const scope = scopeOf(request);
      const flying = (n: number) => {
        inFlight += n;
        inFlightBy.set(scope, (inFlightBy.get(scope) ?? 0) + n);
      };
      for (let attempt = 1; ; attempt++) {
        await pace(scope);
        stats.requests += 1;
        // Every attempt gets a deadline that covers the whole answer, body included: a server that
        // stops answering — before its headers or in the middle of its body — must not hang a scan.
        // (The HTTP client's own `timeout` stops counting once the headers have arrived, so it is not used.)
        const callerSignal = request.abortSignal;
        const deadline = new AbortController();
        const abort = () => deadline.abort();
        callerSignal?.addEventListener('abort', abort, { once: true });
        const timer = setTimeout(abort, timeoutMs);
        request.abortSignal = deadline.signal;
        const settle = () => {
          clearTimeout(timer);
          callerSignal?.removeEventListener('abort', abort);
          request.abortSignal = callerSignal;
        };
        let response: PipelineResponse;
        flying(1);
        try {
          response = await next(request);
        } catch (error) {
          settle();
          flying(-1);
          // Network failures (reset, refused, timeout) come as thrown errors without a response.
          // Our deadline, or an HTTP client timeout a caller set: either way no answer came in time.
          const timedOut = (deadline.signal.aborted || (error as Error).name === 'AbortError') && !callerSignal?.aborted;
          const status = isRestError(error) && !timedOut ? error.statusCode : undefined;
          if (status !== undefined || callerSignal?.aborted) throw error;
          const reason = timedOut ? `no answer in ${seconds(timeoutMs)}` : `no answer (${(error as Error).message})`;
          if (attempt >= maxAttempts) throw timedOut ? new NoAnswerError(`${reason}, ${attempt} attempt(s)`) : error;
          stats.retries += 1;
          const waitMs = backoff(attempt);
          options.onRetry?.(`${describeRequest(request)}: ${reason}, attempt ${attempt + 1} of ${maxAttempts} in ${seconds(waitMs)}`);
          await wait(waitMs, `network error: ${(error as Error).message}`);
          continue;
        }
        settle();
        flying(-1);
        if (response.status === 429) serial.add(scope);
        observeQuota(response);
        if (!isTransientStatus(response.status) || attempt >= maxAttempts) return response;
        let waitMs: number;
        if (response.status === 429) {
          stats.throttled += 1;
          stats.throttledBy.set(scope, (stats.throttledBy.get(scope) ?? 0) + 1);
          const fromServer
            = parseRetryAfter(response, now()) ?? parseResetsAfter(response.headers.get('x-ms-user-quota-resets-after'));
          waitMs = fromServer ?? backoff(attempt);
          blockedUntil = Math.max(blockedUntil, now() + Math.min(waitMs, maxDelayMs));
        } else {
          waitMs = parseRetryAfter(response, now()) ?? backoff(attempt);
        }
        stats.retries += 1;
        options.onRetry?.(
          `${describeRequest(request)}: HTTP ${response.status}${response.status === 429 ? ' (throttled)' : ''}, attempt ${attempt + 1} of ${maxAttempts} in ${seconds(Math.min(waitMs, maxDelayMs))}`,
        );
        await wait(waitMs, `HTTP ${response.status}`);
      }
    },
  };
}
