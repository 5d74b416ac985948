import { ServiceClient } from '@azure/core-client';
import { createPipelineRequest } from '@azure/core-rest-pipeline';
import { z } from 'zod';
import { ArmPageSchema, ArmResourceSchema, checkAnswer } from './answers.js';
import { describeError, isWrongShape } from './resourceGraph.js';
import { isTransientStatus } from './transient.js';

/**
 * Plain Resource Manager reads for change evaluation (issue: change events): Resource Graph lags
 * writes by seconds to minutes, so an event's accounts are read from ARM directly
 * (AZURE-FACTS.md). Responses are raw ARM JSON, the same row shape the normalizer reads from
 * Resource Graph, so both paths share one normalizer.
 *
 * Runs on the SDK's `ServiceClient` with the same credential, token scope and pacing/retry policy as
 * the other clients (src/collect/clients.ts).
 */

/** API versions of the resources read. */
export const ARM_API_VERSIONS = {
  cognitiveServices: '2024-10-01',
  storage: '2023-05-01',
  authorization: '2022-04-01',
  network: '2023-08-01-preview',
  /** Microsoft.DocumentDB (`sqlRoleAssignments`): the newest stable version. */
  cosmosDb: '2025-04-15',
} as const;

/** An ARM read that failed with an answer (status) or without one (network). */
/** Resource Manager's error codes for a resource, group, parent or subscription that does not exist. */
const NOT_FOUND_CODES = new Set(['ResourceNotFound', 'ResourceGroupNotFound', 'ParentResourceNotFound', 'SubscriptionNotFound', 'NotFound']);

export class ArmReadError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
  ) {
    super(message);
  }

  /** Worth retrying later (Event Grid redelivers): no answer, or a transient status (transient.ts). */
  get transient(): boolean {
    return this.statusCode === undefined || isTransientStatus(this.statusCode);
  }
}

export class ArmReader {
  /** ARM requests made (count). */
  requests = 0;

  constructor(
    private readonly client: ServiceClient,
    private readonly endpoint: string,
  ) {}

  private url(pathOrUrl: string, apiVersion: string, query: Record<string, string> = {}): string {
    if (/^https:\/\//i.test(pathOrUrl)) return pathOrUrl;
    const url = new URL(pathOrUrl.split('/').map(encodeURIComponent).join('/'), this.endpoint);
    url.searchParams.set('api-version', apiVersion);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url.toString();
  }

  /**
   * Sends a GET. A 2xx answer is checked against `schema` (answers.ts); an error answer's body is
   * parsed when it is JSON, for its error code and message.
   * @throws ArmReadError without a status for no answer, with 502 for a wrong-shaped 2xx answer
   *   (transient: a proxy page may be gone on the next try)
   */
  private async send<T>(url: string, schema: z.ZodType<T>): Promise<{ status: number; body: T | unknown }> {
    this.requests += 1;
    let response: Awaited<ReturnType<ServiceClient['sendRequest']>>;
    try {
      response = await this.client.sendRequest(createPipelineRequest({ url, method: 'GET' }));
    } catch (error) {
      const d = describeError(error);
      throw new ArmReadError(d.message, d.statusCode);
    }
    if (response.status >= 200 && response.status < 300) {
      try {
        return { status: response.status, body: checkAnswer(response, schema) };
      } catch (error) {
        if (isWrongShape(error)) throw new ArmReadError(`HTTP ${response.status}: ${(error as Error).message}`, 502);
        throw error;
      }
    }
    let body: unknown;
    try {
      body = response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, body };
  }

  /**
   * True for Resource Manager's own "not found" answer: JSON with one of its not-found error codes.
   * Any other 404 (a proxy's page, a wrong path on another server) is not evidence that a resource is gone.
   */
  private static isNotFound(status: number, body: unknown): boolean {
    const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
    return status === 404 && typeof code === 'string' && NOT_FOUND_CODES.has(code);
  }

  /** @throws ArmReadError (502) for a 404 that is not Resource Manager's not-found answer. */
  private notFound(status: number, body: unknown): boolean {
    if (status !== 404) return false;
    if (ArmReader.isNotFound(status, body)) return true;
    throw new ArmReadError('HTTP 404: answer was not Resource Manager\'s not-found error (no ResourceNotFound code); not taken as "gone"', 502);
  }

  private fail(status: number, body: unknown): never {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ArmReadError(`HTTP ${status}${error?.code ? ` ${error.code}` : ''}${error?.message ? `: ${error.message.slice(0, 200)}` : ''}`, status);
  }

  /**
   * GETs one resource. @returns its JSON, or undefined for 404.
   * @throws ArmReadError for any other failure
   */
  async get(path: string, apiVersion: string): Promise<unknown> {
    const { status, body } = await this.send(this.url(path, apiVersion), ArmResourceSchema);
    if (this.notFound(status, body)) return undefined;
    if (status < 200 || status >= 300) this.fail(status, body);
    return body;
  }

  /**
   * GETs a collection, following `nextLink`. @returns every item; [] for 404.
   * @throws ArmReadError for any other failure, or a repeated `nextLink`
   */
  async list(path: string, apiVersion: string, query: Record<string, string> = {}): Promise<unknown[]> {
    const items: unknown[] = [];
    const seen = new Set<string>();
    let url: string | undefined = this.url(path, apiVersion, query);
    while (url) {
      const { status, body } = await this.send(url, ArmPageSchema);
      if (this.notFound(status, body)) return items;
      if (status < 200 || status >= 300) this.fail(status, body);
      const page = body as z.infer<typeof ArmPageSchema>;
      items.push(...page.value);
      const next = typeof page.nextLink === 'string' && page.nextLink ? page.nextLink : undefined;
      // The bearer token goes wherever nextLink points: only to the endpoint it came from.
      if (next && new URL(next).origin !== new URL(this.endpoint).origin) throw new ArmReadError('nextLink points to another host than the endpoint (refused)', 502);
      if (next && seen.has(next)) throw new ArmReadError('the service repeated a nextLink (loop guard)', 502);
      if (next) seen.add(next);
      url = next;
    }
    return items;
  }
}
