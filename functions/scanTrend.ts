import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { guarded, toHttp } from '../src/api/http.js';
import { getTrend } from '../src/api/scansApi.js';
import { apiDeps } from '../src/app.js';

/** `GET /api/scans/trend?limit=30`: the last committed scans' compliance and fails by severity, oldest first. Function-level auth. */
export async function scanTrend(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return guarded(context, async () => toHttp(await getTrend(apiDeps(), request.query)));
}

/** Registration options; function-level auth (a function key) on every route. */
export const scanTrendHttp: Omit<HttpFunctionOptions, 'handler'> = { methods: ['GET'], authLevel: 'function', route: 'scans/trend' };

app.http('scanTrend', { ...scanTrendHttp, handler: scanTrend });
