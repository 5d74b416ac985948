import type { HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ApiResponse } from './scansApi.js';

/** Converts an API answer to a Functions HTTP response. */
export function toHttp(r: ApiResponse): HttpResponseInit {
  return { status: r.status, headers: r.headers, body: r.body };
}

/**
 * Runs an API handler; an unexpected error is logged (message only, no settings or secrets) and
 * answered with 500 without details.
 */
export async function guarded(context: InvocationContext, handler: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  try {
    return await handler();
  } catch (error) {
    context.error(`request failed: ${error instanceof Error ? error.message : String(error)}`);
    return {
      status: 500,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ status: 500, title: 'Internal error', detail: 'see the function logs' }),
    };
  }
}
