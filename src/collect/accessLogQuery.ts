/**
 * The Log Analytics query of enforcement readiness (NSP-07): the perimeter's access logs
 * (`NSPAccessLogs`, AZURE-FACTS.md "Perimeter access logs") summarised server-side to the project's
 * contract — one row per `ServiceResourceId, Category, ResultDirection, SourceIpAddress,
 * SourceResourceId, DestinationFqdn` with `Count` (records) and `LastSeen` (datetime).
 *
 * Only the two "would be blocked once Enforced" categories keep their flow columns
 * (`NspPublicInboundResourceRulesAllowed`, `NspPublicOutboundResourceRulesAllowed`); every other
 * category is folded to one row per account, category and direction, because the rule needs only
 * to know that the account had traffic. That keeps the result near (accounts × categories) rows
 * plus the would-be-denied flows, far under the API's 500,000 rows.
 */

/** The categories an Enforced perimeter would block: denied by the perimeter, allowed by the resource's own rules. */
export const WOULD_BE_DENIED_CATEGORIES = ['NspPublicInboundResourceRulesAllowed', 'NspPublicOutboundResourceRulesAllowed'] as const;

/** The columns of the summarised answer, in order (the contract any compatible endpoint serves). */
export const ACCESS_LOG_COLUMNS = ['ServiceResourceId', 'Category', 'ResultDirection', 'SourceIpAddress', 'SourceResourceId', 'DestinationFqdn', 'Count', 'LastSeen'] as const;

/**
 * Most account IDs named in the query's `ServiceResourceId` filter; above it the query filters on the
 * perimeters only (`_ResourceId`) and the project drops other accounts' rows itself (it always does:
 * the account filter is never trusted to the server).
 */
export const MAX_ACCOUNTS_IN_QUERY = 500;

/**
 * A KQL string literal: single-quoted, with `\` and `'` escaped, and line breaks written `\n` / `\r`
 * (Kusto "The string data type": a quoted literal cannot hold a raw line break, which would end it).
 */
export function kqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, '\\\'').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
}

/**
 * The query for one workspace.
 * @param o.perimeterIds perimeter resource IDs whose access logs the workspace receives (≥1)
 * @param o.accountIds the Learning-mode accounts of those perimeters in scope (filter applied when ≤ MAX_ACCOUNTS_IN_QUERY)
 * @param o.windowDays the window (days, 1–90); the request's `timespan` says the same
 * @throws RangeError when no perimeter is given or the window is outside 1–90 days
 */
export function accessLogQuery(o: { perimeterIds: readonly string[]; accountIds: readonly string[]; windowDays: number }): string {
  if (o.perimeterIds.length === 0) throw new RangeError('accessLogQuery needs at least one perimeter');
  if (!Number.isInteger(o.windowDays) || o.windowDays < 1 || o.windowDays > 90) throw new RangeError(`readiness window must be 1–90 days, got ${o.windowDays}`);
  const list = (ids: readonly string[]) => ids.map((id) => kqlString(id.toLowerCase())).join(', ');
  const wouldBeDenied = WOULD_BE_DENIED_CATEGORIES.map(kqlString).join(', ');
  const lines = [
    'NSPAccessLogs',
    `| where TimeGenerated > ago(${o.windowDays}d)`,
    `| where tolower(_ResourceId) in (${list(o.perimeterIds)})`,
  ];
  if (o.accountIds.length > 0 && o.accountIds.length <= MAX_ACCOUNTS_IN_QUERY) lines.push(`| where tolower(ServiceResourceId) in (${list(o.accountIds)})`);
  lines.push(
    `| extend Flow = Category in (${wouldBeDenied})`,
    '| summarize Count = count(), LastSeen = max(TimeGenerated) by ServiceResourceId = tolower(ServiceResourceId), Category, ResultDirection,',
    '    SourceIpAddress = iff(Flow, SourceIpAddress, \'\'), SourceResourceId = iff(Flow, SourceResourceId, \'\'), DestinationFqdn = iff(Flow, DestinationFqdn, \'\')',
    `| project ${ACCESS_LOG_COLUMNS.join(', ')}`,
  );
  return lines.join('\n');
}
