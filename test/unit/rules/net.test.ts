import net01 from '../../../src/rules/net-01-public-network-access-restricted.js';
import net02 from '../../../src/rules/net-02-network-rules-effective.js';
import net03 from '../../../src/rules/net-03-network-rules-valid.js';
import net04 from '../../../src/rules/net-04-ip-rules-least-privilege.js';
import net05 from '../../../src/rules/net-05-trusted-services-bypass.js';
import net06 from '../../../src/rules/net-06-private-endpoint-connections-reviewed.js';
import net07 from '../../../src/rules/net-07-private-endpoint-required.js';
import net08 from '../../../src/rules/net-08-outbound-access-restricted.js';
import { aContext, anAccount, association, SUB, unreadable } from '../../helpers/builders.js';
import { ruleTable } from '../../helpers/ruleTable.js';

const enforced = [association({ accessMode: 'Enforced' })];
const learning = [association({ accessMode: 'Learning' })];
const subnet = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/apps`;

ruleTable(
  net01,
  [
    {
      name: 'Enforced perimeter overrides Enabled + Allow',
      account: anAccount({ associations: enforced }),
      outcome: 'pass',
      code: 'enforced-perimeter-overrides',
      message: /Enforced perimeter .*overridden/,
    },
    {
      name: 'Disabled',
      account: anAccount({ network: { publicNetworkAccess: 'Disabled' } }),
      outcome: 'pass',
      code: 'public-network-access-disabled',
      message: /is Disabled/,
    },
    {
      name: 'case-insensitive enum',
      account: anAccount({ network: { publicNetworkAccess: 'disabled' } }),
      outcome: 'pass',
      code: 'public-network-access-disabled',
      message: /Disabled/,
    },
    {
      name: 'SecuredByPerimeter',
      account: anAccount({ network: { publicNetworkAccess: 'SecuredByPerimeter' } }),
      outcome: 'pass',
      code: 'secured-by-perimeter',
      message: /SecuredByPerimeter/,
    },
    {
      name: 'selected networks (Deny)',
      account: anAccount({ network: { defaultAction: 'Deny', ipRules: ['203.0.113.0/24'] } }),
      outcome: 'pass',
      code: 'default-action-deny',
      message: /selected networks .*1 IP rule/,
    },
    {
      name: 'Disabled passes even when perimeter data is unread',
      account: anAccount({ network: { publicNetworkAccess: 'Disabled' }, associations: unreadable() }),
      outcome: 'pass',
      code: 'public-network-access-disabled',
      message: /Disabled/,
    },
    {
      name: 'Enabled + Allow, no perimeter',
      account: anAccount(),
      outcome: 'fail',
      code: 'public-network-access-enabled',
      message: /Enabled with default action Allow.*any network/,
    },
    {
      name: 'Learning does not override',
      account: anAccount({ associations: learning }),
      outcome: 'fail',
      code: 'public-network-access-enabled',
      message: /no enforced perimeter/,
    },
    {
      name: 'non-capable kind: perimeter data not consulted',
      account: anAccount({ kind: 'TextTranslation', associations: unreadable() }),
      outcome: 'fail',
      code: 'public-network-access-enabled',
      message: /Enabled with default action Allow/,
    },
    {
      name: 'Enabled + Allow while perimeter data unread',
      account: anAccount({ associations: unreadable('networkresources failed') }),
      outcome: 'unknown',
      code: 'perimeter-enforcement-unread',
      message: /whether an enforced perimeter overrides it could not be read: networkresources failed/,
    },
    {
      name: 'network settings malformed',
      account: anAccount({ network: unreadable('malformed network settings') }),
      outcome: 'unknown',
      code: 'network-settings-unread',
      message: /malformed network settings/,
    },
  ],
  { not_applicable: 'applies to all kinds' },
);

ruleTable(net02, [
  {
    name: 'rules with Deny',
    account: anAccount({ network: { defaultAction: 'Deny', ipRules: ['203.0.113.0/24'] } }),
    outcome: 'pass',
    code: 'default-action-deny',
    message: /take effect/,
  },
  {
    name: 'rules with Allow',
    account: anAccount({
      network: { defaultAction: 'Allow', ipRules: ['203.0.113.0/24'], virtualNetworkRules: [subnet] },
    }),
    outcome: 'fail',
    code: 'network-rules-ineffective',
    message: /Default action is Allow: the 1 IP rule\(s\) and 1 virtual network rule\(s\) have no effect/,
  },
  { name: 'no rules', account: anAccount(), outcome: 'not_applicable', code: 'not-applicable', message: /no IP or virtual network rules/ },
  {
    name: 'public network access Disabled',
    account: anAccount({ network: { publicNetworkAccess: 'Disabled', ipRules: ['203.0.113.0/24'] } }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /publicNetworkAccess is Disabled/,
  },
  {
    name: 'Enforced',
    account: anAccount({ network: { ipRules: ['203.0.113.0/24'] }, associations: enforced }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /Enforced/,
  },
  {
    name: 'perimeter data unread (Enforced would exclude it)',
    account: anAccount({ network: { ipRules: ['203.0.113.0/24'] }, associations: unreadable() }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /could not be decided/,
  },
  {
    name: 'network settings unread',
    account: anAccount({ network: unreadable() }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /simulated/,
  },
]);

ruleTable(net03, [
  {
    name: 'public IPv4 address, CIDR and subnet',
    account: anAccount({ network: { ipRules: ['203.0.113.7', '198.51.100.0/24'], virtualNetworkRules: [subnet] } }),
    outcome: 'pass',
    code: 'network-rules-valid',
    message: /2 IP rule\(s\) and 1 virtual network rule\(s\), all valid/,
  },
  {
    name: 'IPv6',
    account: anAccount({ network: { ipRules: ['2001:db8::1'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /'2001:db8::1' is not an IPv4 address or CIDR range \(only IPv4 addresses are supported\)/,
  },
  {
    name: 'garbage',
    account: anAccount({ network: { ipRules: ['not-an-ip'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /'not-an-ip' is not an IPv4/,
  },
  {
    name: 'leading zeros are not decimal IPv4',
    account: anAccount({ network: { ipRules: ['010.1.2.3'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /not an IPv4/,
  },
  {
    name: '/32',
    account: anAccount({ network: { ipRules: ['203.0.113.5/32'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /prefix \/32 \(use individual IP address rules\)/,
  },
  {
    name: '/31',
    account: anAccount({ network: { ipRules: ['203.0.113.4/31'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /prefix \/31/,
  },
  {
    name: 'private range',
    account: anAccount({ network: { ipRules: ['192.168.1.0/24'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /overlaps private or reserved space 192\.168\.0\.0\/16/,
  },
  {
    name: 'a range covering reserved space',
    account: anAccount({ network: { ipRules: ['96.0.0.0/4'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /100\.64\.0\.0\/10/,
  },
  {
    name: 'CGNAT single address',
    account: anAccount({ network: { ipRules: ['100.64.1.1'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /100\.64\.0\.0\/10/,
  },
  {
    name: 'loopback',
    account: anAccount({ network: { ipRules: ['127.0.0.1'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /127\.0\.0\.0\/8/,
  },
  {
    name: 'multicast',
    account: anAccount({ network: { ipRules: ['224.1.1.1'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /224\.0\.0\.0\/4/,
  },
  {
    name: 'more than 100 IP rules',
    account: anAccount({
      network: { ipRules: Array.from({ length: 101 }, (_, i) => `203.0.${Math.floor(i / 200)}.${i + 1}`) },
    }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /101 IP rules \(at most 100/,
  },
  {
    name: 'more than 100 virtual network rules',
    account: anAccount({ network: { virtualNetworkRules: Array.from({ length: 101 }, (_, i) => `${subnet}${i}`) } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /101 virtual network rules/,
  },
  {
    name: 'a virtual network (not a subnet) ID',
    account: anAccount({ network: { virtualNetworkRules: [subnet.replace(/\/subnets\/apps$/, '')] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /is not a subnet resource ID/,
  },
  {
    name: 'lists every offending entry',
    account: anAccount({ network: { ipRules: ['10.0.0.0/8', '2001:db8::/32', '198.51.100.9/32'] } }),
    outcome: 'fail',
    code: 'invalid-network-rules',
    message: /10\.0\.0\.0\/8.*2001:db8::\/32.*198\.51\.100\.9\/32/,
  },
  { name: 'no rules', account: anAccount(), outcome: 'not_applicable', code: 'not-applicable', message: /no IP or virtual network rules/ },
  {
    name: 'network settings unread',
    account: anAccount({ network: unreadable() }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /simulated/,
  },
]);

ruleTable(net04, [
  {
    name: '/16 is the limit',
    account: anAccount({ network: { ipRules: ['52.1.0.0/16', '203.0.113.9'] } }),
    outcome: 'pass',
    code: 'ip-rules-narrow',
    message: /No IP rule admits more than 65536/,
  },
  {
    name: 'invalid values are ignored here (NET-03 reports them)',
    account: anAccount({ network: { ipRules: ['nonsense'] } }),
    outcome: 'pass',
    code: 'ip-rules-narrow',
    message: /No IP rule/,
  },
  {
    name: '/8',
    account: anAccount({ network: { ipRules: ['52.0.0.0/8'] } }),
    outcome: 'fail',
    code: 'ip-rule-too-wide',
    message: /52\.0\.0\.0\/8 \(16777216 addresses\)/,
  },
  {
    name: '0.0.0.0/0',
    account: anAccount({ network: { ipRules: ['0.0.0.0/0'] } }),
    outcome: 'fail',
    code: 'ip-rule-too-wide',
    message: /4294967296/,
  },
  {
    name: 'IPv6 /100 counts 2^28',
    account: anAccount({ network: { ipRules: ['2001:db8::/100'] } }),
    outcome: 'fail',
    code: 'ip-rule-too-wide',
    message: /268435456 addresses/,
  },
  {
    name: 'maxRuleAddresses parameter',
    account: anAccount({ network: { ipRules: ['52.1.0.0/16'] } }),
    ctx: aContext({ params: { maxRuleAddresses: 256 } }),
    outcome: 'fail',
    code: 'ip-rule-too-wide',
    message: /more than 256/,
  },
  {
    name: 'virtual network rules only',
    account: anAccount({ network: { virtualNetworkRules: [subnet] } }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no IP rules/,
  },
  {
    name: 'network settings unread',
    account: anAccount({ network: unreadable() }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /simulated/,
  },
]);

ruleTable(net05, [
  {
    name: 'Deny with AzureServices',
    account: anAccount({ network: { defaultAction: 'Deny', bypass: 'AzureServices' } }),
    outcome: 'pass',
    code: 'bypass-as-expected',
    message: /bypass is AzureServices, as expected/,
  },
  {
    name: 'expectedBypass None, and None set',
    account: anAccount({ network: { publicNetworkAccess: 'Disabled', bypass: 'None' } }),
    ctx: aContext({ params: { expectedBypass: 'None' } }),
    outcome: 'pass',
    code: 'bypass-as-expected',
    message: /None, as expected/,
  },
  {
    name: 'Disabled with bypass None',
    account: anAccount({ network: { publicNetworkAccess: 'Disabled' } }),
    outcome: 'fail',
    code: 'bypass-unexpected',
    message: /bypass is None; expected AzureServices/,
  },
  {
    name: 'Learning does not exclude it',
    account: anAccount({ network: { defaultAction: 'Deny' }, associations: learning }),
    outcome: 'fail',
    code: 'bypass-unexpected',
    message: /expected AzureServices/,
  },
  {
    name: 'open account (not network-restricted)',
    account: anAccount(),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /publicNetworkAccess is Enabled and networkAcls.defaultAction is Allow/,
  },
  {
    name: 'Enforced',
    account: anAccount({ network: { defaultAction: 'Deny' }, associations: enforced }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /Enforced/,
  },
  {
    name: 'not perimeter-capable',
    account: anAccount({ kind: 'Face', network: { defaultAction: 'Deny' } }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /Face/,
  },
  {
    name: 'open account with perimeter data unread: not applicable either way',
    account: anAccount({ associations: unreadable() }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /defaultAction is Allow/,
  },
  {
    name: 'restricted with perimeter data unread',
    account: anAccount({ network: { defaultAction: 'Deny' }, associations: unreadable('nsp unread') }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /nsp unread/,
  },
]);

ruleTable(net06, [
  {
    name: 'approved and rejected only',
    account: anAccount({ privateEndpointStatuses: ['Approved', 'Rejected'] }),
    outcome: 'pass',
    code: 'private-endpoint-connections-reviewed',
    message: /2 private endpoint connection\(s\), none pending/,
  },
  {
    name: 'one pending',
    account: anAccount({ privateEndpointStatuses: ['Approved', 'Pending'] }),
    outcome: 'fail',
    code: 'private-endpoint-connection-pending',
    message: /1 private endpoint connection\(s\) waiting for approval: pec-1/,
  },
  {
    name: 'no connections',
    account: anAccount(),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no private endpoint connections/,
  },
  {
    name: 'connections unread',
    account: anAccount({ privateEndpointStatuses: unreadable() }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /simulated/,
  },
]);

ruleTable(
  net07,
  [
    {
      name: 'approved endpoint',
      account: anAccount({ privateEndpointStatuses: ['Pending', 'Approved'] }),
      outcome: 'pass',
      code: 'private-endpoint-approved',
      message: /1 approved/,
    },
    {
      name: 'only pending',
      account: anAccount({ privateEndpointStatuses: ['Pending'] }),
      outcome: 'fail',
      code: 'no-approved-private-endpoint',
      message: /No approved private endpoint connection \(1 connection/,
    },
    { name: 'none', account: anAccount(), outcome: 'fail', code: 'no-approved-private-endpoint', message: /No approved/ },
    {
      name: 'unread',
      account: anAccount({ privateEndpointStatuses: unreadable() }),
      outcome: 'unknown',
      code: 'private-endpoint-connections-unread',
      message: /simulated/,
    },
  ],
  { not_applicable: 'applies to all kinds' },
);

ruleTable(
  net08,
  [
    {
      name: 'Enforced perimeter',
      account: anAccount({ associations: enforced }),
      outcome: 'pass',
      code: 'enforced-perimeter-restricts-outbound',
      message: /restricted by an Enforced perimeter/,
    },
    {
      name: 'outbound allow-list',
      account: anAccount({ restrictOutboundNetworkAccess: true }),
      outcome: 'pass',
      code: 'outbound-restricted-by-account',
      message: /restrictOutboundNetworkAccess is true/,
    },
    {
      name: 'allow-list passes even with perimeter data unread',
      account: anAccount({ restrictOutboundNetworkAccess: true, associations: unreadable() }),
      outcome: 'pass',
      code: 'outbound-restricted-by-account',
      message: /restrictOutboundNetworkAccess is true/,
    },
    { name: 'unrestricted', account: anAccount(), outcome: 'fail', code: 'outbound-unrestricted', message: /Outbound access is unrestricted/ },
    {
      name: 'Learning does not restrict',
      account: anAccount({ associations: learning }),
      outcome: 'fail',
      code: 'outbound-unrestricted',
      message: /unrestricted/,
    },
    {
      name: 'non-capable kind',
      account: anAccount({ kind: 'Face', associations: unreadable() }),
      outcome: 'fail',
      code: 'outbound-unrestricted',
      message: /unrestricted/,
    },
    {
      name: 'perimeter data unread',
      account: anAccount({ associations: unreadable('nsp unread') }),
      outcome: 'unknown',
      code: 'perimeter-enforcement-unread',
      message: /nsp unread/,
    },
    {
      name: 'outbound setting unread',
      account: anAccount({ restrictOutboundNetworkAccess: unreadable('bad type') }),
      outcome: 'unknown',
      code: 'outbound-settings-unread',
      message: /bad type/,
    },
  ],
  { not_applicable: 'applies to all kinds' },
);
