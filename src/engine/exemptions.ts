import type { Exemption, Policy } from '../config/policy.js';
import { sameId } from '../domain/resourceId.js';
import type { Finding } from '../domain/rule.js';

/**
 * Applies the policy's exemptions to findings. An exempted finding keeps its real outcome and
 * carries the exemption; an exemption past its `expiresOn` no longer applies and is reported on the
 * finding as expired (issue: policy).
 */

/** When an exemption stops applying (ms since epoch); a date alone means the end of that day, UTC. */
export function expiryOf(e: Exemption): number | undefined {
  if (!e.expiresOn) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(e.expiresOn) ? Date.parse(`${e.expiresOn}T23:59:59.999Z`) : Date.parse(e.expiresOn);
}

function targets(e: Exemption, f: Finding, allowTags: boolean): boolean {
  const t = e.target;
  if ('resourceId' in t) return sameId(t.resourceId, f.resourceId);
  if ('resourceGroup' in t) return sameId(t.resourceGroup, `/subscriptions/${f.subscriptionId}/resourceGroups/${f.resourceGroup}`);
  if ('subscription' in t) return sameId(t.subscription.replace(/^\/subscriptions\//i, ''), f.subscriptionId);
  if (!allowTags) return false;
  // Tag names are case-insensitive in Azure; values are compared exactly.
  const tags = Object.entries(f.tags ?? {});
  return Object.entries(t.tags).every(([k, v]) => tags.some(([fk, fv]) => sameId(fk, k) && fv === v));
}

/** The finding with its exemption (or its expired exemption) attached; unchanged when none matches. */
export function applyExemptions(f: Finding, policy: Pick<Policy, 'exemptions' | 'allowTagExemptions'>, now: Date): Finding {
  let expired: Exemption | undefined;
  for (const e of policy.exemptions) {
    if (e.rules !== 'all' && !e.rules.includes(f.ruleId)) continue;
    if (!targets(e, f, policy.allowTagExemptions)) continue;
    const expiry = expiryOf(e);
    if (expiry !== undefined && expiry < now.getTime()) {
      expired ??= e;
      continue;
    }
    return {
      ...f,
      exemption: { name: e.name, category: e.category, justification: e.justification, ...(e.expiresOn ? { expiresOn: e.expiresOn } : {}) },
    };
  }
  return expired ? { ...f, expiredExemption: { name: expired.name, expiresOn: expired.expiresOn ?? '' } } : f;
}
