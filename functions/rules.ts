import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { guarded, toHttp } from '../src/api/http.js';
import { getRules } from '../src/api/scansApi.js';

/** `GET /api/rules`: the rule catalog. Function-level auth. */
export async function rules(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return guarded(context, async () => toHttp(getRules()));
}

app.http('rules', { methods: ['GET'], authLevel: 'function', route: 'rules', handler: rules });
