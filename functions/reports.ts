import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { guarded, toHttp } from '../src/api/http.js';
import { getReport } from '../src/api/scansApi.js';
import { apiDeps } from '../src/app.js';

/** `GET /api/scans/{scanId}/report?format=html|csv|sarif|json` (`latest` accepted). Function-level auth. */
export async function reports(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return guarded(context, async () => toHttp(await getReport(apiDeps(), request.params.scanId, request.query)));
}

/** Registration options; function-level auth (a function key) on every route. */
export const reportsHttp: Omit<HttpFunctionOptions, 'handler'> = { methods: ['GET'], authLevel: 'function', route: 'scans/{scanId}/report' };

app.http('reports', { ...reportsHttp, handler: reports });
