import { z } from 'zod';

/**
 * Resource change events from an Event Grid system topic (`Microsoft.Resources.Subscriptions`), in
 * either the Event Grid schema or the CloudEvents 1.0 schema (AZURE-FACTS.md, "Change events").
 */

export const EVENT_TYPES = [
  'Microsoft.Resources.ResourceWriteSuccess',
  'Microsoft.Resources.ResourceDeleteSuccess',
  'Microsoft.Resources.ResourceActionSuccess',
] as const;
export type ResourceEventType = (typeof EVENT_TYPES)[number];

/** A change event, schema-independent. */
export interface ResourceEvent {
  readonly id: string;
  readonly type: ResourceEventType;
  /** The changed resource's ID. */
  readonly subject: string;
  /** e.g. `Microsoft.CognitiveServices/accounts/write`. */
  readonly operationName: string;
  /** ISO 8601. */
  readonly time: string;
}

export type ParsedEvent = { readonly ok: true; readonly event: ResourceEvent } | { readonly ok: false; readonly reason: string };

const Data = z.object({ operationName: z.string().min(3).max(300), resourceUri: z.string().max(2000).optional() }).passthrough();

const EventGridSchema = z
  .object({ id: z.string().min(1).max(200), eventType: z.string(), subject: z.string().max(2000), eventTime: z.string(), data: Data })
  .passthrough();

const CloudEventSchema = z
  .object({ specversion: z.literal('1.0'), id: z.string().min(1).max(200), type: z.string(), subject: z.string().max(2000).optional(), time: z.string().optional(), data: Data })
  .passthrough();

const RESOURCE_PATH = /^\/(subscriptions|providers)\/[^\s]+$/i;

/** Parses a delivered event; never throws. A reason names what is wrong, never echoes large input. */
export function parseEvent(raw: unknown): ParsedEvent {
  if (typeof raw !== 'object' || raw === null) return { ok: false, reason: 'the event is not a JSON object' };
  const isCloudEvent = 'specversion' in raw;
  const parsed = isCloudEvent ? CloudEventSchema.safeParse(raw) : EventGridSchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, reason: `not a valid ${isCloudEvent ? 'CloudEvents 1.0' : 'Event Grid'} event: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  }
  const e = parsed.data as Record<string, unknown> & { data: z.infer<typeof Data> };
  const type = String(isCloudEvent ? e.type : e.eventType);
  if (!(EVENT_TYPES as readonly string[]).includes(type)) return { ok: false, reason: `event type ${type.slice(0, 100)} is not a resource write, delete or action` };
  const subject = String((isCloudEvent ? e.subject : e.subject) ?? e.data.resourceUri ?? '');
  if (!RESOURCE_PATH.test(subject)) return { ok: false, reason: 'the event subject is not a resource ID' };
  const time = String((isCloudEvent ? e.time : e.eventTime) ?? '');
  return { ok: true, event: { id: String(e.id), type: type as ResourceEventType, subject, operationName: e.data.operationName, time } };
}
