import ipaddr from 'ipaddr.js';
import { overlappingReservedRanges, parseAddressRange } from '../domain/addresses.js';
import { idKey, parseResourceId } from '../domain/resourceId.js';
import type { RuleParameters } from '../domain/rule.js';
import type { AccessLogFlow, AccessRule, PerimeterAssociation } from '../domain/snapshot.js';

/**
 * NSP-07's remedy: from the flows an Enforced perimeter would block, the smallest set of access
 * rules that keeps them working and that passes NSP-03 and NSP-04 itself (RULES.md, NSP-07):
 * - one inbound rule of address prefixes: each source address exactly (/32, /128), sibling
 *   prefixes merged only when together they cover exactly the addresses seen, never shorter than
 *   `readinessMinPrefixLength` nor wider than `maxRuleAddresses`;
 * - one inbound rule of subscriptions, for callers known by resource ID (the caller's subscription);
 * - one outbound rule of exact FQDNs.
 * Rules go to the profile of the account's Learning-mode association, under fixed names; where the
 * profile already has a rule of that name, its entries are kept (the command replaces the rule).
 * Log fields are attacker-controlled: a value that is not an IP address, a resource ID or an exact
 * FQDN is never put in a rule or a command; it is listed as not planned, with the reason.
 *
 * The `az network perimeter profile access-rule create` flags and the Bicep resource follow the
 * Network Security Perimeter access rule REST shape (addressPrefixes, subscriptions[{id}],
 * fullyQualifiedDomainNames; AZURE-FACTS.md).
 */

/** A proposed access rule with its command and its Bicep. */
export interface ProposedAccessRule {
  readonly perimeterId: string;
  readonly perimeterName: string;
  readonly profileName: string;
  readonly resourceGroup: string;
  readonly subscriptionId: string;
  /** The access rule's name within the profile. */
  readonly name: string;
  readonly direction: 'Inbound' | 'Outbound';
  /** CIDRs (inbound). */
  readonly addressPrefixes: readonly string[];
  /** Subscription resource IDs, `/subscriptions/{guid}` (inbound). */
  readonly subscriptions: readonly string[];
  /** Exact FQDNs, lower-case (outbound). */
  readonly fullyQualifiedDomainNames: readonly string[];
  /** Entries kept from the profile's existing rule of the same name (count). */
  readonly kept: number;
  /** An `az network perimeter profile access-rule create` command line. */
  readonly az: string;
  /** A Bicep snippet that declares the rule in the perimeter's resource group. */
  readonly bicep: string;
}

/** A flow for which no rule is proposed, and why. */
export interface UnplannedFlow {
  readonly flow: AccessLogFlow;
  readonly reason: string;
}

/** The plan for one account. */
export interface ReadinessPlan {
  readonly rules: readonly ProposedAccessRule[];
  readonly unplanned: readonly UnplannedFlow[];
}

/** The fixed names of the proposed rules. */
export const PROPOSED_RULE_NAMES = {
  addresses: 'readiness-inbound-addresses',
  subscriptions: 'readiness-inbound-subscriptions',
  fqdns: 'readiness-outbound-fqdns',
} as const;

/** An exact FQDN: dot-separated labels of letters, digits and hyphens, no wildcard, ≤ 253 characters. */
const FQDN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;

/** ARM names the commands may carry unquoted (perimeter, profile, resource group). */
const SAFE_NAME = /^[-\w.()]{1,90}$/;

/** One prefix as (first address, length) over `bits` bits. */
interface Prefix {
  readonly start: bigint;
  readonly length: number;
}

function formatPrefix(p: Prefix, kind: 'ipv4' | 'ipv6'): string {
  const bytes: number[] = [];
  const count = kind === 'ipv4' ? 4 : 16;
  for (let i = count - 1; i >= 0; i--) bytes.push(Number((p.start >> BigInt(i * 8)) & 0xffn));
  const address = kind === 'ipv4' ? ipaddr.IPv4 : ipaddr.IPv6;
  return `${new address(bytes as never).toString()}/${p.length}`;
}

/**
 * Merges exact addresses into the fewest prefixes that cover exactly them: two sibling prefixes of
 * length n become one of n−1 while n−1 ≥ `shortest`.
 * @param addresses distinct addresses (numbers over `bits` bits)
 */
export function mergeExact(addresses: readonly bigint[], bits: number, shortest: number): Prefix[] {
  let level = new Set(addresses);
  const out: Prefix[] = [];
  for (let length = bits; length >= 0; length--) {
    const span = 1n << BigInt(bits - length);
    const next = new Set<bigint>();
    for (const start of level) {
      const sibling = start ^ span;
      const parent = start & ~span;
      if (length > shortest && level.has(sibling)) {
        next.add(parent);
      } else {
        out.push({ start, length });
      }
    }
    if (next.size === 0) break;
    level = next;
  }
  return out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.length - b.length));
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, '\'\\\'\'')}'`;
}

function bicepList(values: readonly string[]): string {
  return `[\n${values.map((v) => `      '${v.replace(/\\/g, '\\\\').replace(/'/g, '\\\'')}'`).join('\n')}\n    ]`;
}

function commandOf(r: Omit<ProposedAccessRule, 'az' | 'bicep'>): string {
  const parts = [
    'az network perimeter profile access-rule create',
    `--subscription ${r.subscriptionId}`,
    `--resource-group ${SAFE_NAME.test(r.resourceGroup) ? r.resourceGroup : shellQuote(r.resourceGroup)}`,
    `--perimeter-name ${SAFE_NAME.test(r.perimeterName) ? r.perimeterName : shellQuote(r.perimeterName)}`,
    `--profile-name ${SAFE_NAME.test(r.profileName) ? r.profileName : shellQuote(r.profileName)}`,
    `--name ${r.name}`,
    `--direction ${r.direction}`,
  ];
  const list = (values: readonly string[]) => `"[${values.map((v) => `'${v}'`).join(',')}]"`;
  if (r.addressPrefixes.length > 0) parts.push(`--address-prefixes ${list(r.addressPrefixes)}`);
  if (r.subscriptions.length > 0) parts.push(`--subscriptions "[${r.subscriptions.map((s) => `{id:'${s}'}`).join(',')}]"`);
  if (r.fullyQualifiedDomainNames.length > 0) parts.push(`--fqdn ${list(r.fullyQualifiedDomainNames)}`);
  return parts.join(' ');
}

function bicepOf(r: Omit<ProposedAccessRule, 'az' | 'bicep'>): string {
  const symbol = r.name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  const props = [`    direction: '${r.direction}'`];
  if (r.addressPrefixes.length > 0) props.push(`    addressPrefixes: ${bicepList(r.addressPrefixes)}`);
  if (r.subscriptions.length > 0) props.push(`    subscriptions: [\n${r.subscriptions.map((s) => `      { id: '${s}' }`).join('\n')}\n    ]`);
  if (r.fullyQualifiedDomainNames.length > 0) props.push(`    fullyQualifiedDomainNames: ${bicepList(r.fullyQualifiedDomainNames)}`);
  return [
    `// Deploy to resource group '${r.resourceGroup}' of subscription ${r.subscriptionId}.`,
    'resource perimeter \'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview\' existing = {',
    `  name: '${r.perimeterName}'`,
    '}',
    '',
    'resource profile \'Microsoft.Network/networkSecurityPerimeters/profiles@2023-08-01-preview\' existing = {',
    '  parent: perimeter',
    `  name: '${r.profileName}'`,
    '}',
    '',
    `resource ${symbol} 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2023-08-01-preview' = {`,
    '  parent: profile',
    `  name: '${r.name}'`,
    '  properties: {',
    ...props,
    '  }',
    '}',
  ].join('\n');
}

function complete(r: Omit<ProposedAccessRule, 'az' | 'bicep'>): ProposedAccessRule {
  return { ...r, az: commandOf(r), bicep: bicepOf(r) };
}

/**
 * The plan for one account.
 * @param flows the would-be-denied flows (AccessLogReading.flows)
 * @param association the account's Learning-mode association (its profile receives the rules)
 * @param existing the access rules of the account's profiles (to keep entries of a rule of the same name)
 * @param dataSourceFqdns endpoint FQDNs of the account's data sources that ID-04 finds unreachable
 *   once Enforced (rules/dataSources.ts): proposed in the outbound rule beside the logged destinations
 * @returns no rules when the association names no profile (every flow is then unplanned)
 */
export function planAccessRules(
  flows: readonly AccessLogFlow[],
  association: PerimeterAssociation,
  existing: readonly AccessRule[],
  params: Pick<RuleParameters, 'readinessMinPrefixLength' | 'maxRuleAddresses'>,
  dataSourceFqdns: readonly string[] = [],
): ReadinessPlan {
  const profile = association.profileId ? parseResourceId(association.profileId) : undefined;
  const perimeter = parseResourceId(association.perimeterId);
  if (!profile || !perimeter) return { rules: [], unplanned: flows.map((flow) => ({ flow, reason: 'the association names no profile' })) };
  const unplanned: UnplannedFlow[] = [];
  const v4 = new Set<bigint>();
  const v6 = new Set<bigint>();
  const subscriptions = new Map<string, string>();
  const fqdns = new Set<string>();
  for (const f of dataSourceFqdns) {
    const fqdn = f.trim().toLowerCase();
    if (FQDN.test(fqdn)) fqdns.add(fqdn);
  }
  for (const flow of flows) {
    if (flow.direction.toLowerCase() === 'outbound') {
      const fqdn = flow.destinationFqdn.trim().toLowerCase().replace(/\.$/, '');
      if (FQDN.test(fqdn)) fqdns.add(fqdn);
      else unplanned.push({ flow, reason: 'the destination is not an exact domain name' });
      continue;
    }
    if (flow.direction.toLowerCase() !== 'inbound') {
      unplanned.push({ flow, reason: `unknown direction '${flow.direction}'` });
      continue;
    }
    const caller = flow.sourceResourceId ? parseResourceId(flow.sourceResourceId) : undefined;
    if (caller && /^[0-9a-f-]{36}$/i.test(caller.subscriptionId)) {
      subscriptions.set(caller.subscriptionId.toLowerCase(), `/subscriptions/${caller.subscriptionId.toLowerCase()}`);
      continue;
    }
    // The same strict parsing and reserved ranges as NET-03 (src/domain/addresses.ts).
    const range = parseAddressRange(flow.sourceIpAddress);
    if (!range || range.isCidr) {
      unplanned.push({ flow, reason: 'the source is neither an IP address nor a resource ID' });
      continue;
    }
    const reserved = range.family === 'ipv4' ? overlappingReservedRanges(range) : ipaddr.IPv6.parse(flow.sourceIpAddress.trim()).range() === 'unicast' ? [] : ['non-unicast IPv6'];
    if (reserved.length > 0) {
      unplanned.push({ flow, reason: `the source address is in private or reserved space (${reserved.join(', ')}), not one a perimeter access rule can name` });
      continue;
    }
    (range.family === 'ipv4' ? v4 : v6).add(range.first);
  }

  // The shortest prefix allowed: the parameter, and never more addresses than NSP-03 accepts.
  const maxBits = Math.floor(Math.log2(Math.max(1, params.maxRuleAddresses)));
  const shortest4 = Math.max(params.readinessMinPrefixLength, 32 - maxBits, 0);
  const shortest6 = Math.max(params.readinessMinPrefixLength + 96, 128 - maxBits, 0);
  const base = {
    perimeterId: association.perimeterId,
    perimeterName: perimeter.name,
    profileName: profile.name,
    resourceGroup: perimeter.resourceGroup,
    subscriptionId: perimeter.subscriptionId,
  };
  const existingOf = (name: string) => existing.find((r) => idKey(r.profileId) === idKey(association.profileId) && r.name.toLowerCase() === name);
  const rules: ProposedAccessRule[] = [];
  const addresses = [
    ...mergeExact([...v4], 32, shortest4).map((p) => formatPrefix(p, 'ipv4')),
    ...mergeExact([...v6], 128, shortest6).map((p) => formatPrefix(p, 'ipv6')),
  ];
  if (addresses.length > 0) {
    const old = existingOf(PROPOSED_RULE_NAMES.addresses)?.addressPrefixes ?? [];
    rules.push(complete({ ...base, name: PROPOSED_RULE_NAMES.addresses, direction: 'Inbound', addressPrefixes: [...new Set([...old, ...addresses])], subscriptions: [], fullyQualifiedDomainNames: [], kept: old.length }));
  }
  if (subscriptions.size > 0) {
    const old = existingOf(PROPOSED_RULE_NAMES.subscriptions)?.subscriptionIds ?? [];
    const merged = new Map([...old.map((s) => [s.toLowerCase(), s] as const), ...subscriptions]);
    rules.push(complete({ ...base, name: PROPOSED_RULE_NAMES.subscriptions, direction: 'Inbound', addressPrefixes: [], subscriptions: [...merged.values()], fullyQualifiedDomainNames: [], kept: old.length }));
  }
  if (fqdns.size > 0) {
    const old = existingOf(PROPOSED_RULE_NAMES.fqdns)?.fullyQualifiedDomainNames ?? [];
    rules.push(complete({ ...base, name: PROPOSED_RULE_NAMES.fqdns, direction: 'Outbound', addressPrefixes: [], subscriptions: [], fullyQualifiedDomainNames: [...new Set([...old.map((f) => f.toLowerCase()), ...fqdns])], kept: old.length }));
  }
  return { rules, unplanned };
}
