import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext, output } from '@azure/functions';
import { guarded, toHttp } from '../src/api/http.js';
import { listScans, startScan } from '../src/api/scansApi.js';
import { apiDeps, SCAN_QUEUE } from '../src/app.js';

/** Output binding: on-demand scan requests, read by `scanRequested`. */
export const scanRequests = output.storageQueue({ queueName: SCAN_QUEUE, connection: 'AzureWebJobsStorage' });

/**
 * `GET /api/scans` (paged, newest first) and `POST /api/scans` (start an on-demand scan: 202 with
 * its scanId at once, 409 while a scan runs). Function-level auth.
 */
export async function scans(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return guarded(context, async () => {
    const deps = apiDeps();
    if (request.method === 'POST') {
      const { response, scanId } = await startScan(deps);
      if (scanId) {
        context.extraOutputs.set(scanRequests, { scanId });
        context.log(`scan ${scanId} requested`);
      }
      return toHttp(response);
    }
    return toHttp(await listScans(deps, request.query));
  });
}

/** Registration options; function-level auth (a function key) on every route. */
export const scansHttp: Omit<HttpFunctionOptions, 'handler'> = { methods: ['GET', 'POST'], authLevel: 'function', route: 'scans', extraOutputs: [scanRequests] };

app.http('scans', { ...scansHttp, handler: scans });
