import { z } from 'zod';

/**
 * Shape checks at the edge: every Resource Graph and Resource Manager answer is checked for its
 * content type and for the arrays and paging fields the collector reads, before any row is used.
 * A wrong-shaped answer is an unread answer — never an empty list (a proxy's or captive portal's
 * `200 text/html` page, or `{}` without `value`, must not become "no configurations").
 *
 * Shapes: AZURE-FACTS.md, "Resource Graph" (`{ totalRecords, count, resultTruncated, $skipToken?,
 * data: object[] }`) and "Cognitive Services perimeter configuration" (`{ value: [...], nextLink? }`,
 * the ARM collection shape).
 */

/** A raw HTTP answer as the SDK's `onResponse` or `sendRequest` gives it. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: { get(name: string): string | undefined };
  readonly bodyAsText?: string | null;
}

/**
 * Thrown for an answer whose content type, JSON or shape is not what the API returns. The message
 * names the content type and size in bytes, e.g.
 * "answer was not the expected JSON (text/html, 1,234 bytes)", and never quotes the body.
 */
export class AnswerShapeError extends Error {
  override readonly name = 'AnswerShapeError';
}

/** "answer was not the expected JSON (text/html, 1,234 bytes[: detail])". */
export function unexpectedAnswer(contentType: string | undefined, bytes: number, detail?: string): string {
  const type = (contentType ?? '').split(';')[0]?.trim() || 'no content type';
  return `answer was not the expected JSON (${type}, ${bytes.toLocaleString('en-US')} bytes${detail ? `: ${detail}` : ''})`;
}

/** The first schema issue in words: "value: expected array, received undefined". */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'wrong shape';
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : 'the answer';
  return `${path}: ${issue.message}`;
}

/**
 * Parses and checks a 2xx answer.
 * @returns the parsed body, typed by `schema`
 * @throws AnswerShapeError when the content type is not JSON, the body does not parse, or the body
 *   does not match `schema`
 */
export function checkAnswer<T>(raw: RawAnswer, schema: z.ZodType<T>): T {
  const text = raw.bodyAsText ?? '';
  const contentType = raw.headers.get('content-type');
  const bytes = Buffer.byteLength(text);
  if (!/\bjson\b/i.test(contentType ?? '')) throw new AnswerShapeError(unexpectedAnswer(contentType, bytes));
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AnswerShapeError(unexpectedAnswer(contentType, bytes, 'the body is not JSON'));
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new AnswerShapeError(unexpectedAnswer(contentType, bytes, firstIssue(parsed.error)));
  return parsed.data;
}

/** A Resource Graph page (`resultFormat: objectArray`). Other members are allowed and ignored. */
export const GraphPageSchema = z.looseObject({
  data: z.array(z.unknown()),
  $skipToken: z.string().min(1).nullish(),
  resultTruncated: z.union([z.enum(['true', 'false', 'True', 'False']), z.boolean()]).optional(),
  totalRecords: z.number().int().min(0).optional(),
  count: z.number().int().min(0).optional(),
});

/** One page of an ARM collection: `value` is required, `nextLink` an absolute https URL when present. */
export const ArmPageSchema = z.looseObject({
  value: z.array(z.unknown()),
  nextLink: z
    .string()
    .refine((v) => v === '' || /^https:\/\//i.test(v), 'an https URL')
    .nullish(),
});

/** One ARM resource: an object (its fields are checked by the normalizer). */
export const ArmResourceSchema = z.looseObject({});
