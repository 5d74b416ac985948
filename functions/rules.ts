import { app, type HttpFunctionOptions, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { guarded, toHttp } from '../src/api/http.js';
import { getRules } from '../src/api/scansApi.js';

/** `GET /api/rules`: the rule catalog. Function-level auth. */
export async function rules(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return guarded(context, async () => toHttp(getRules()));
}

/** Registration options; function-level auth (a function key) on every route. */
export const rulesHttp: Omit<HttpFunctionOptions, 'handler'> = { methods: ['GET'], authLevel: 'function', route: 'rules' };

app.http('rules', { ...rulesHttp, handler: rules });
