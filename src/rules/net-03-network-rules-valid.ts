import { overlappingReservedRanges, parseAddressRange } from '../domain/addresses.js';
import { isSubnetId } from '../domain/resourceId.js';
import { defineRule } from '../domain/rule.js';
import { hasNetworkRules } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** Largest number of IP rules, and of virtual network rules, an account accepts. */
export const MAX_RULES_PER_KIND = 100;

/**
 * What is wrong with one `networkAcls.ipRules` value (none when the service accepts it): not an
 * IPv4 address or range, a /31 or /32 prefix, or private or reserved space. Shared with the
 * report's remediation (reports/remediation.ts), which names the offending rules.
 */
export function ipRuleOffences(value: string): string[] {
  const range = parseAddressRange(value);
  if (range === undefined || range.family !== 'ipv4') {
    return [`'${value}' is not an IPv4 address or CIDR range (only IPv4 addresses are supported)`];
  }
  const offences: string[] = [];
  if (range.isCidr && range.prefix >= 31) {
    offences.push(`'${value}' uses prefix /${range.prefix} (use individual IP address rules)`);
  }
  const reserved = overlappingReservedRanges(range);
  if (reserved.length > 0) {
    offences.push(
      `'${value}' overlaps private or reserved space ${reserved.join(', ')} (only valid public IP (nonreserved) addresses are accepted)`,
    );
  }
  return offences;
}

/** NET-03: IP and virtual network rules are ones the service accepts (RULES.md; ai-services-virtual-networks.txt). */
export default defineRule({
  id: 'NET-03',
  slug: 'network-rules-valid',
  aliases: [],
  title: 'IP and virtual network rules are ones the service accepts',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText: 'accounts with ≥1 IP or virtual network rule',
  rationale:
    'Rules the service does not accept (IPv6, /31 or /32 ranges, private or reserved space, non-subnet IDs, more than 100 of a kind) do not admit what their owner intended; the account is either broken for its callers or guarded by rules that are not what they seem.',
  remediation: {
    description:
      'Replace each offending rule: public IPv4 addresses or ranges only, individual address rules instead of /31 and /32, subnet resource IDs, at most 100 of each kind.',
    az: 'az cognitiveservices account network-rule remove --subscription <subscription> --resource-group <rg> --name <account> --ip-address <offending-rule>',
    bicep: `// On account '<account>' (resource group '<rg>', subscription <subscription>):
networkAcls: {
  defaultAction: 'Deny'
  ipRules: [ { value: '203.0.113.7' }, { value: '198.51.100.0/24' } ]
  virtualNetworkRules: [ { id: subnet.id } ]
}`,
  },
  references: [REF.virtualNetworks, REF.docVirtualNetworks],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account) => hasNetworkRules(account),
  evaluate(account) {
    if (!account.network.ok) {
      return { outcome: 'unknown', code: 'network-settings-unread', message: `Network settings could not be read: ${account.network.reason}` };
    }
    const { ipRules, virtualNetworkRules } = account.network.value;
    const offences: string[] = [];
    for (const value of ipRules) offences.push(...ipRuleOffences(value));
    if (ipRules.length > MAX_RULES_PER_KIND) {
      offences.push(`${ipRules.length} IP rules (at most ${MAX_RULES_PER_KIND} are supported)`);
    }
    if (virtualNetworkRules.length > MAX_RULES_PER_KIND) {
      offences.push(
        `${virtualNetworkRules.length} virtual network rules (at most ${MAX_RULES_PER_KIND} are supported)`,
      );
    }
    for (const id of virtualNetworkRules) {
      if (!isSubnetId(id)) offences.push(`virtual network rule '${id}' is not a subnet resource ID`);
    }
    const evidence = { ipRules, virtualNetworkRules };
    if (offences.length > 0) {
      return {
        outcome: 'fail', code: 'invalid-network-rules',
        message: `Network rules the service does not accept: ${offences.join('; ')}.`,
        evidence,
      };
    }
    return {
      outcome: 'pass', code: 'network-rules-valid',
      message: `${ipRules.length} IP rule(s) and ${virtualNetworkRules.length} virtual network rule(s), all valid.`,
      evidence,
    };
  },
});
