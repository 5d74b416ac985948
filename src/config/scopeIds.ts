import { z } from 'zod';

/**
 * The IDs a user names a scope with, checked before the first request so that a typo fails at once,
 * naming the input, instead of becoming an "unreadable" subscription or an empty management group.
 *
 * - A subscription ID is a GUID, optionally written as `/subscriptions/{guid}`
 *   (Azure Resource Manager resource IDs).
 * - A management group ID is 1–90 letters, digits, hyphens, underscores, periods and parentheses,
 *   not ending with a period (Azure management groups, "Management group ID"), optionally written as
 *   `/providers/Microsoft.Management/managementGroups/{id}`.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MANAGEMENT_GROUP = /^[A-Za-z0-9._()-]{0,89}[A-Za-z0-9_()-]$/;

/** The bare subscription GUID of `value`, or undefined when it is not a subscription ID. */
export function subscriptionIdOf(value: string): string | undefined {
  const bare = value.trim().replace(/^\/subscriptions\//i, '');
  return GUID.test(bare) ? bare : undefined;
}

/** The bare management group ID of `value`, or undefined when it is not one. */
export function managementGroupIdOf(value: string): string | undefined {
  const bare = value.trim().replace(/^\/providers\/Microsoft\.Management\/managementGroups\//i, '');
  return MANAGEMENT_GROUP.test(bare) ? bare : undefined;
}

/** zod: a string checked and normalized by `of`, with `message` (which never repeats the value) when it fails. */
function idSchema(of: (value: string) => string | undefined, message: string) {
  return z.string().transform((v, ctx) => {
    const id = of(v);
    if (id === undefined) {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    return id;
  });
}

/** zod: a subscription ID, normalized to its bare GUID. The message does not repeat the value (settings never echo values). */
export const SubscriptionIdSchema = idSchema(subscriptionIdOf, 'not a subscription ID (a GUID such as 6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f)');

/** zod: a management group ID, normalized to its bare name. */
export const ManagementGroupIdSchema = idSchema(managementGroupIdOf, 'not a management group ID (1–90 letters, digits, - _ . ( ), not ending with .)');
