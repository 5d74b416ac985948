import { parentId } from '../domain/resourceId.js';
import type { ResourceEvent } from './parse.js';

/**
 * From an event to what must be re-evaluated (issue: change events, "From event to affected accounts").
 */
export type ChangeTarget
  = | { readonly kind: 'account'; readonly accountId: string }
    | { readonly kind: 'association'; readonly associationId: string }
    | { readonly kind: 'profile'; readonly profileId: string }
    | { readonly kind: 'roleAssignment'; readonly roleAssignmentId: string }
    | { readonly kind: 'ignored'; readonly reason: string };

const op = (e: ResourceEvent) => e.operationName.toLowerCase();

export function routeEvent(e: ResourceEvent): ChangeTarget {
  const o = op(e);
  if (/^microsoft\.cognitiveservices\/accounts\/(write|delete)$/.test(o) || /^microsoft\.cognitiveservices\/accounts\/networksecurityperimeterconfigurations\/.+\/action$/.test(o)) {
    const m = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.CognitiveServices\/accounts\/[^/]+)/i.exec(e.subject);
    return m?.[1] ? { kind: 'account', accountId: m[1] } : { kind: 'ignored', reason: 'subject is not an account ID' };
  }
  if (/^microsoft\.network\/networksecurityperimeters\/resourceassociations\/(write|delete)$/.test(o)) {
    return /\/resourceAssociations\/[^/]+$/i.test(e.subject) ? { kind: 'association', associationId: e.subject } : { kind: 'ignored', reason: 'subject is not an association ID' };
  }
  if (/^microsoft\.network\/networksecurityperimeters\/profiles\/accessrules\/(write|delete)$/.test(o)) {
    return /\/profiles\/[^/]+\/accessRules\/[^/]+$/i.test(e.subject) ? { kind: 'profile', profileId: parentId(e.subject) } : { kind: 'ignored', reason: 'subject is not an access rule ID' };
  }
  if (/^microsoft\.network\/networksecurityperimeters\/profiles\/(write|delete)$/.test(o)) {
    return /\/profiles\/[^/]+$/i.test(e.subject) ? { kind: 'profile', profileId: e.subject } : { kind: 'ignored', reason: 'subject is not a profile ID' };
  }
  if (/^microsoft\.authorization\/roleassignments\/(write|delete)$/.test(o)) {
    return /\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/i.test(e.subject)
      ? { kind: 'roleAssignment', roleAssignmentId: e.subject }
      : { kind: 'ignored', reason: 'subject is not a role assignment ID' };
  }
  return { kind: 'ignored', reason: `operation ${e.operationName.slice(0, 120)} does not affect what the rules read` };
}
