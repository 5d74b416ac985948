import { allOf, fact, type Fact } from '../domain/observed.js';
import { defineRule } from '../domain/rule.js';
import type { AccessLogFlow, AccountSnapshot } from '../domain/snapshot.js';
import { dataSourcesOf } from './dataSources.js';
import { associated, effectiveAssociation, modeStrength } from './facts.js';
import { planAccessRules } from './readinessPlan.js';
import { NO_ANCHOR, REF } from './references.js';

/** The effective access mode is Learning (Transition): readiness is measured only there (RULES.md, NSP-07). */
function inLearningMode(account: AccountSnapshot): Fact {
  if (!account.associations.ok) return { ok: false, reason: account.associations.reason };
  const best = effectiveAssociation(account.associations.value);
  if (best === undefined) return fact(false, 'the account has no Succeeded perimeter association');
  if (modeStrength(best.accessMode) === modeStrength('Learning')) return fact(true, `perimeter '${best.perimeterName}' is in ${best.accessMode} access mode`);
  if (best.accessMode.toLowerCase() === 'enforced') return fact(false, `perimeter '${best.perimeterName}' is already Enforced`);
  return fact(false, `the effective access mode is ${best.accessMode} (perimeter '${best.perimeterName}'); readiness is measured in Learning mode`);
}

/** One flow in words: direction, who, where, how often, when last. */
export function describeFlow(f: AccessLogFlow): string {
  const who = f.direction.toLowerCase() === 'outbound' ? `to ${f.destinationFqdn || '(no FQDN)'}` : `from ${f.sourceResourceId || f.sourceIpAddress || '(unknown source)'}`;
  return `${f.direction} ${who}: ${f.count} record(s), last ${f.lastSeen}`;
}

/** NSP-07: nothing the account uses would be blocked once its perimeter is Enforced (RULES.md). */
export default defineRule({
  id: 'NSP-07',
  slug: 'perimeter-enforcement-ready',
  aliases: [],
  title: 'Nothing the account uses would be blocked once its perimeter is Enforced',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: true,
  appliesToText: 'accounts associated with a perimeter in Learning mode (deep inspection)',
  rationale:
    'In Learning mode the perimeter logs the traffic it would deny once Enforced. Switching to Enforced before access rules admit that traffic cuts the account off from its callers and its data; the logs say which rules to add first.',
  remediation: {
    description:
      'Add the proposed access rules to the perimeter profile (the finding lists them with their commands), wait for the access logs to show no would-be-denied traffic, then switch the association to Enforced.',
    az: 'az network perimeter profile access-rule create --subscription <perimeter-subscription> --resource-group <perimeter-rg> --perimeter-name <perimeter> --profile-name <profile> --name readiness-inbound-addresses --direction Inbound --address-prefixes "[\'<caller-range>\']"',
    bicep: `resource inbound 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2023-08-01-preview' = {
  parent: profile
  name: 'readiness-inbound-addresses'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [ '<caller-range>' ]
  }
}`,
  },
  references: [REF.perimeterLogs, REF.openAiPerimeter, REF.foundryPerimeter, REF.docOpenAiPerimeter, REF.docFoundryPerimeter],
  controls: { mcsb: ['NS-2', 'LT-3'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) => allOf(() => associated(account, ctx.params), () => inLearningMode(account)),
  evaluate(account, ctx) {
    const logs = account.accessLogs;
    if (logs === undefined) {
      return {
        outcome: 'unknown', code: 'access-logs-not-inspected',
        message: 'The perimeter\'s access logs were not read for this account (deep inspection off, or an evaluation that does not read them).',
      };
    }
    if (logs.status === 'no-destination') {
      return {
        outcome: 'unknown', code: 'access-logs-not-collected',
        message: `The access logs are not collected in Log Analytics: ${logs.reason}. Enable the allLogs diagnostic setting on the perimeter (NSP-06).`,
      };
    }
    const best = account.associations.ok ? effectiveAssociation(account.associations.value) : undefined;
    if (logs.flows.length > 0 && best !== undefined) {
      // One truth about what Enforced would break: the data sources ID-04 finds unreachable get their outbound FQDNs too.
      const unreachable = dataSourcesOf(account, ctx).verdicts.flatMap((v) => (v.status === 'not_ok' && v.fqdn ? [v.fqdn] : []));
      const plan = planAccessRules(logs.flows, best, account.accessRules.ok ? account.accessRules.value : [], ctx.params, unreachable);
      const records = logs.flows.reduce((n, f) => n + f.count, 0);
      const top = logs.flows.slice(0, 3).map(describeFlow).join('; ');
      return {
        outcome: 'fail', code: 'would-be-denied-traffic',
        message: `${logs.flows.length} flow(s) (${records} record(s) in ${logs.windowDays} day(s)) would be blocked once perimeter '${best.perimeterName}' is Enforced: ${top}${logs.flows.length > 3 ? `; and ${logs.flows.length - 3} more` : ''}. ${plan.rules.length} access rule(s) proposed.${logs.status === 'incomplete' ? ` (Logs partly read: ${logs.reason}.)` : ''}`,
        evidence: {
          windowDays: logs.windowDays,
          workspaces: logs.workspaces,
          flows: logs.flows,
          proposedRules: plan.rules,
          unplannedFlows: plan.unplanned,
          ...(logs.status === 'incomplete' ? { incomplete: logs.reason } : {}),
        },
      };
    }
    if (logs.status === 'incomplete') {
      return { outcome: 'unknown', code: 'access-logs-unread', message: `The access logs could not be fully read: ${logs.reason}.` };
    }
    if (logs.records === 0) {
      return {
        outcome: 'unknown', code: 'no-access-log-records',
        message: `No access log record for the account in the last ${logs.windowDays} day(s): no traffic, or logs not flowing.`,
        evidence: { windowDays: logs.windowDays, workspaces: logs.workspaces },
      };
    }
    return {
      outcome: 'pass', code: 'no-would-be-denied-traffic',
      message: `${logs.records} access log record(s) in ${logs.windowDays} day(s), none of traffic the perimeter would deny once Enforced.`,
      evidence: { windowDays: logs.windowDays, workspaces: logs.workspaces, records: logs.records },
    };
  },
});
