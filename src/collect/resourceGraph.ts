import type { ResourceGraphClient } from '@azure/arm-resourcegraph';
import { isRestError } from '@azure/core-rest-pipeline';
import { AnswerShapeError, checkAnswer, GraphPageSchema, unexpectedAnswer } from './answers.js';

/**
 * Resource Graph paging on `@azure/arm-resourcegraph` 5.x, which has no pager: we loop on
 * `skipToken` (AZURE-FACTS.md). Pages of at most 1000 rows (the service maximum).
 */

/** Where a query runs. Neither list: every subscription the caller can read in the tenant. */
export interface GraphScope {
  readonly subscriptions?: readonly string[];
  readonly managementGroups?: readonly string[];
}

/** Thrown when a query cannot be completed (after the pipeline's retries). */
export class GraphQueryError extends Error {
  constructor(
    message: string,
    /** HTTP status when the service answered, e.g. 403. */
    readonly statusCode: number | undefined,
  ) {
    super(message);
  }
}

/**
 * Builds the query for a table and type: select rows by type (ARCHITECTURE.md), then, when given,
 * `| project {columns}` so that only what the normalizer reads crosses the network.
 */
export function typeQuery(table: string, type: string, project?: string): string {
  return `${table} | where type =~ '${type}'${project ? ` | project ${project}` : ''}`;
}

/** The projected query of one of the scan's tables (inventory.ts `TABLES`). */
export function tableQuery(spec: { readonly table: string; readonly type: string; readonly project?: string }): string {
  return typeQuery(spec.table, spec.type, spec.project);
}

/** Longest error text kept (characters): far above any real message, a bound only for a body mistaken for one. */
const ERROR_TEXT_LIMIT = 4000;

function whole(text: string): string {
  return text.length <= ERROR_TEXT_LIMIT ? text : `${text.slice(0, ERROR_TEXT_LIMIT)}… (${text.length - ERROR_TEXT_LIMIT} more characters)`;
}

/**
 * Secret-free description of a failed request, in plain words: the status and the service's
 * error code and message (first line), or for an answer that did not parse, its content type and
 * size (`answer was not the expected JSON (text/html, 1,234 bytes)`), never the body itself.
 */
export function describeError(error: unknown): { message: string; statusCode: number | undefined } {
  if (isRestError(error)) {
    if (error.code === 'PARSE_ERROR') {
      const response = error.response;
      const text = response?.bodyAsText ?? '';
      return { message: unexpectedAnswer(response?.headers.get('content-type'), Buffer.byteLength(text), 'the body is not JSON'), statusCode: undefined };
    }
    const code = error.code ? `${error.code}: ` : '';
    const text = whole((error.message || '').split('\n')[0] ?? '');
    return { message: `HTTP ${error.statusCode ?? 'error'} ${code}${text}`.trim(), statusCode: error.statusCode };
  }
  // Whole: a credential error's last lines are its advice (run az login, set AZURE_CLIENT_ID …).
  return { message: whole(error instanceof Error ? error.message : String(error)), statusCode: undefined };
}

/** True for an answer that arrived but was not the expected JSON (a proxy page, a body cut short). */
export function isWrongShape(error: unknown): boolean {
  return error instanceof AnswerShapeError || (isRestError(error) && error.code === 'PARSE_ERROR');
}

/**
 * The rows of a response. The SDK's mapper types `data` as a Dictionary, so an `objectArray`
 * result arrives as `{ "0": row, "1": row, … }`; a plain array is accepted too. Anything else
 * (a table-format result, a string) is malformed.
 */
export function rowsOf(data: unknown): unknown[] | undefined {
  if (Array.isArray(data)) return data;
  if (typeof data !== 'object' || data === null) return undefined;
  const keys = Object.keys(data);
  if (!keys.every((k, i) => k === String(i))) return undefined;
  return Object.values(data);
}

/** Counts the page requests of one read (count). */
export interface PageCounter {
  pages: number;
}

/** Reads every page of Resource Graph queries. */
export class ResourceGraphReader {
  /** Pages requested by this reader (count), for the scan's figures. */
  requested = 0;

  constructor(
    private readonly client: ResourceGraphClient,
    private readonly pageSize = 1000,
    private readonly maxPages = 100_000,
  ) {}

  /**
   * Runs `query` over `scope` and returns every row of every page, each passed through `mapRow`
   * when given (the collector keeps account rows as JSON text, a third of their size as objects).
   * @throws GraphQueryError on a failed request, a malformed response, a repeated paging token,
   *   or a truncated result without a token to continue.
   */
  async readAll(query: string, scope: GraphScope, mapRow?: (row: unknown) => unknown, counter?: PageCounter): Promise<unknown[]> {
    const rows: unknown[] = [];
    for await (const page of this.pages(query, scope, mapRow, counter)) for (const row of page) rows.push(row);
    return rows;
  }

  /**
   * Runs `query` over `scope` and yields its rows a page at a time (at most 1000 rows each), so a
   * caller can work on one page while the next is requested; `counter.pages` counts the requests.
   * @throws GraphQueryError as `readAll` does, from the page that failed (earlier pages were yielded)
   */
  async* pages(query: string, scope: GraphScope, mapRow?: (row: unknown) => unknown, counter?: PageCounter): AsyncGenerator<unknown[]> {
    const seenTokens = new Set<string>();
    let skipToken: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= this.maxPages) throw new GraphQueryError(`more than ${this.maxPages} pages`, undefined);
      let response: Awaited<ReturnType<ResourceGraphClient['resources']>> | undefined;
      // A page whose body does not parse (cut short in transit) or is not a Resource Graph answer (a
      // proxy's page) is asked for again, twice at most; other failures were already retried by the
      // pipeline's policy. Every 2xx answer is checked for its shape before a row is used (answers.ts).
      for (let attempt = 1; response === undefined; attempt++) {
        try {
          this.requested += 1;
          if (counter) counter.pages += 1;
          response = await this.client.resources(
            {
              query,
              ...(scope.subscriptions ? { subscriptions: [...scope.subscriptions] } : {}),
              ...(scope.managementGroups ? { managementGroups: [...scope.managementGroups] } : {}),
              options: { top: this.pageSize, resultFormat: 'objectArray', ...(skipToken ? { skipToken } : {}) },
            },
            {
              onResponse: (raw) => {
                if (raw.status >= 200 && raw.status < 300) checkAnswer(raw, GraphPageSchema);
              },
            },
          );
        } catch (error) {
          if (isWrongShape(error) && attempt < 3) continue;
          const d = describeError(error);
          throw new GraphQueryError(d.message, d.statusCode);
        }
      }
      const data = rowsOf(response.data);
      if (data === undefined) throw new GraphQueryError('answer was not the expected JSON: data is not an array of rows', undefined);
      skipToken = response.skipToken || undefined;
      if (skipToken === undefined && String(response.resultTruncated).toLowerCase() === 'true') {
        throw new GraphQueryError('the result was truncated and no skipToken was returned', undefined);
      }
      yield mapRow ? data.map(mapRow) : data;
      if (skipToken === undefined) return;
      if (seenTokens.has(skipToken))
        throw new GraphQueryError('the service repeated a paging token (loop guard)', undefined);
      seenTokens.add(skipToken);
    }
  }
}
