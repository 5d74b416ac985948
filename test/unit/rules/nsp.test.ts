import nsp01 from '../../../src/rules/nsp-01-perimeter-associated.js';
import nsp02 from '../../../src/rules/nsp-02-perimeter-enforced.js';
import nsp03 from '../../../src/rules/nsp-03-perimeter-inbound-least-privilege.js';
import nsp04 from '../../../src/rules/nsp-04-perimeter-outbound-least-privilege.js';
import nsp05 from '../../../src/rules/nsp-05-perimeter-configuration-healthy.js';
import nsp06 from '../../../src/rules/nsp-06-perimeter-access-logging.js';
import {
  aContext,
  accessRule,
  anAccount,
  association,
  configuration,
  OTHER_PERIMETER,
  unreadable,
} from '../../helpers/builders.js';
import { ruleTable } from '../../helpers/ruleTable.js';

const enforced = association({ accessMode: 'Enforced' });
const learning = association({ accessMode: 'Learning' });

ruleTable(nsp01, [
  {
    name: 'Succeeded association',
    account: anAccount({ associations: [enforced] }),
    outcome: 'pass',
    code: 'perimeter-associated',
    message: /Associated with network security perimeter 'nsp-main' \(Enforced\)/,
  },
  {
    name: 'absent provisioningState counts as Succeeded (normalizer default)',
    account: anAccount({ kind: 'AIServices', associations: [learning] }),
    outcome: 'pass',
    code: 'perimeter-associated',
    message: /Learning/,
  },
  {
    name: 'no association',
    account: anAccount(),
    outcome: 'fail',
    code: 'not-associated',
    message: /not associated with any network security perimeter/,
  },
  {
    name: 'only a Failed association, message names the state',
    account: anAccount({ associations: [association({ provisioningState: 'Failed' })] }),
    outcome: 'fail',
    code: 'association-not-succeeded',
    message: /No Succeeded perimeter association: .*'nsp-main' is in provisioning state Failed/,
  },
  {
    name: 'kind matching is case-insensitive',
    account: anAccount({ kind: 'openai' }),
    outcome: 'fail',
    code: 'not-associated',
    message: /not associated/,
  },
  {
    name: 'kind not perimeter-capable',
    account: anAccount({ kind: 'Face' }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /kind 'Face' is not a perimeter-capable kind/,
  },
  {
    name: 'non-capable kind ignores perimeter data, even unread',
    account: anAccount({ kind: 'SpeechServices', associations: unreadable() }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /SpeechServices/,
  },
  {
    name: 'perimeterKinds parameter widens the capable kinds',
    account: anAccount({ kind: 'Face' }),
    ctx: aContext({ params: { perimeterKinds: ['OpenAI', 'AIServices', 'Face'] } }),
    outcome: 'fail',
    code: 'not-associated',
    message: /not associated/,
  },
  {
    name: 'association rows unread',
    account: anAccount({ associations: unreadable('networkresources: HTTP 500') }),
    outcome: 'unknown',
    code: 'perimeter-associations-unread',
    message: /HTTP 500/,
  },
  { name: 'kind unread', account: anAccount({ kind: unreadable('no kind') }), outcome: 'unknown', code: 'applicability-unread', message: /no kind/ },
]);

ruleTable(nsp02, [
  {
    name: 'Enforced',
    account: anAccount({ associations: [enforced] }),
    outcome: 'pass',
    code: 'perimeter-enforced',
    message: /Enforced access mode/,
  },
  {
    name: 'strongest mode wins: Learning and Enforced',
    account: anAccount({
      associations: [learning, association({ perimeterId: OTHER_PERIMETER, accessMode: 'Enforced' })],
    }),
    outcome: 'pass',
    code: 'perimeter-enforced',
    message: /'nsp-other' is in Enforced/,
  },
  {
    name: 'Learning names mode and perimeter',
    account: anAccount({ associations: [learning] }),
    outcome: 'fail',
    code: 'perimeter-not-enforced',
    message: /Learning \(perimeter 'nsp-main'\)/,
  },
  {
    name: 'Audit',
    account: anAccount({ associations: [association({ accessMode: 'Audit' })] }),
    outcome: 'fail',
    code: 'perimeter-not-enforced',
    message: /Audit \(perimeter 'nsp-main'\)/,
  },
  {
    name: 'a Failed Enforced association does not count',
    account: anAccount({
      associations: [learning, association({ accessMode: 'Enforced', provisioningState: 'Failed' })],
    }),
    outcome: 'fail',
    code: 'perimeter-not-enforced',
    message: /Learning/,
  },
  {
    name: 'not associated',
    account: anAccount(),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no Succeeded network security perimeter association/,
  },
  {
    name: 'association rows unread',
    account: anAccount({ associations: unreadable() }),
    outcome: 'unknown',
    code: 'applicability-unread',
    message: /simulated read failure/,
  },
]);

ruleTable(nsp03, [
  {
    name: 'narrow prefixes and subscription rules',
    account: anAccount({
      associations: [enforced],
      accessRules: [
        accessRule({ addressPrefixes: ['198.51.100.0/24', '203.0.113.7'] }),
        accessRule({ subscriptionIds: ['/subscriptions/x'] }),
      ],
    }),
    outcome: 'pass',
    code: 'inbound-rules-narrow',
    message: /2 inbound access rule\(s\); none admits more than 65536/,
  },
  {
    name: 'exactly /16 is allowed',
    account: anAccount({ associations: [enforced], accessRules: [accessRule({ addressPrefixes: ['52.10.0.0/16'] })] }),
    outcome: 'pass',
    code: 'inbound-rules-narrow',
    message: /none admits/,
  },
  {
    name: 'a profile with no inbound rules',
    account: anAccount({ associations: [enforced], accessRules: [] }),
    outcome: 'pass',
    code: 'inbound-rules-narrow',
    message: /0 inbound/,
  },
  {
    name: 'wide outbound-direction prefixes are not inbound',
    account: anAccount({
      associations: [enforced],
      accessRules: [accessRule({ direction: 'Outbound', addressPrefixes: ['0.0.0.0/0'] })],
    }),
    outcome: 'pass',
    code: 'inbound-rules-narrow',
    message: /0 inbound/,
  },
  {
    name: '0.0.0.0/0',
    account: anAccount({
      associations: [enforced],
      accessRules: [accessRule({ name: 'open', addressPrefixes: ['0.0.0.0/0'] })],
    }),
    outcome: 'fail',
    code: 'inbound-rule-too-wide',
    message: /0\.0\.0\.0\/0 in rule 'open' \(4294967296 addresses\)/,
  },
  {
    name: '/15',
    account: anAccount({ associations: [enforced], accessRules: [accessRule({ addressPrefixes: ['52.0.0.0/15'] })] }),
    outcome: 'fail',
    code: 'inbound-rule-too-wide',
    message: /131072 addresses/,
  },
  {
    name: 'IPv6 /64 counts 2^64 addresses',
    account: anAccount({ associations: [enforced], accessRules: [accessRule({ addressPrefixes: ['2001:db8::/64'] })] }),
    outcome: 'fail',
    code: 'inbound-rule-too-wide',
    message: /18446744073709551616 addresses/,
  },
  {
    name: 'maxRuleAddresses parameter',
    account: anAccount({
      associations: [enforced],
      accessRules: [accessRule({ addressPrefixes: ['198.51.100.0/24'] })],
    }),
    ctx: aContext({ params: { maxRuleAddresses: 16 } }),
    outcome: 'fail',
    code: 'inbound-rule-too-wide',
    message: /more than 16 addresses/,
  },
  {
    name: 'not associated',
    account: anAccount({ accessRules: [accessRule({ addressPrefixes: ['0.0.0.0/0'] })] }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no Succeeded/,
  },
  {
    name: 'access rules unread',
    account: anAccount({ associations: [enforced], accessRules: unreadable('rules: HTTP 403') }),
    outcome: 'unknown',
    code: 'access-rules-unread',
    message: /HTTP 403/,
  },
]);

ruleTable(nsp04, [
  {
    name: 'exact FQDNs',
    account: anAccount({
      associations: [enforced],
      accessRules: [accessRule({ direction: 'Outbound', fullyQualifiedDomainNames: ['st1.blob.core.windows.net'] })],
    }),
    outcome: 'pass',
    code: 'outbound-fqdns-exact',
    message: /every FQDN is exact/,
  },
  {
    name: 'wildcard FQDN',
    account: anAccount({
      associations: [enforced],
      accessRules: [
        accessRule({
          name: 'any-blob',
          direction: 'Outbound',
          fullyQualifiedDomainNames: ['ok.example.com', '*.blob.core.windows.net'],
        }),
      ],
    }),
    outcome: 'fail',
    code: 'outbound-wildcard-fqdn',
    message: /\*\.blob\.core\.windows\.net in rule 'any-blob'/,
  },
  {
    name: 'direction compared case-insensitively',
    account: anAccount({
      associations: [enforced],
      accessRules: [accessRule({ direction: 'outbound', fullyQualifiedDomainNames: ['*'] })],
    }),
    outcome: 'fail',
    code: 'outbound-wildcard-fqdn',
    message: /wildcard/,
  },
  {
    name: 'not perimeter-capable',
    account: anAccount({ kind: 'Face', associations: [enforced] }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /Face/,
  },
  {
    name: 'access rules unread',
    account: anAccount({ associations: [enforced], accessRules: unreadable() }),
    outcome: 'unknown',
    code: 'access-rules-unread',
    message: /could not be read/,
  },
]);

ruleTable(nsp05, [
  {
    name: 'healthy configuration',
    account: anAccount({ associations: [enforced], perimeterConfigurations: [configuration()] }),
    outcome: 'pass',
    code: 'perimeter-configurations-healthy',
    message: /all Succeeded without provisioning issues/,
  },
  {
    name: 'provisioning issue: message lists issueType and description',
    account: anAccount({
      associations: [enforced],
      perimeterConfigurations: [
        configuration({
          provisioningIssues: [
            { issueType: 'MissingPerimeterConfiguration', severity: 'Error', description: 'rules not applied' },
          ],
        }),
      ],
    }),
    outcome: 'fail',
    code: 'perimeter-configuration-problems',
    message: /MissingPerimeterConfiguration: rules not applied/,
  },
  {
    name: 'provisioningState not Succeeded',
    account: anAccount({
      associations: [enforced],
      perimeterConfigurations: [configuration({ provisioningState: 'Failed' })],
    }),
    outcome: 'fail',
    code: 'perimeter-configuration-problems',
    message: /provisioning state Failed/,
  },
  {
    name: 'drift: associated, no configuration',
    account: anAccount({ associations: [enforced], perimeterConfigurations: [] }),
    outcome: 'fail',
    code: 'perimeter-configuration-missing',
    message: /returns no perimeter configuration/,
  },
  {
    name: 'not associated',
    account: anAccount({ perimeterConfigurations: [] }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no Succeeded/,
  },
  {
    name: 'configurations could not be read',
    account: anAccount({
      associations: [enforced],
      perimeterConfigurations: unreadable('perimeter configurations could not be read: HTTP 500'),
    }),
    outcome: 'unknown',
    code: 'perimeter-configurations-unread',
    message: /HTTP 500/,
  },
  {
    name: 'configurations not inspected',
    account: anAccount({ associations: [enforced] }),
    outcome: 'unknown',
    code: 'perimeter-configurations-not-inspected',
    message: /not read/,
  },
]);

ruleTable(nsp06, [
  {
    name: 'log categories enabled',
    account: anAccount({ associations: [enforced], perimeterConfigurations: [configuration()] }),
    outcome: 'pass',
    code: 'access-logs-enabled',
    message: /Access logs enabled: NspPublicInboundPerimeterRulesDenied/,
  },
  {
    name: 'no log category',
    account: anAccount({
      associations: [enforced],
      perimeterConfigurations: [configuration({ name: 'cfg1', enabledLogCategories: [] })],
    }),
    outcome: 'fail',
    code: 'access-logs-disabled',
    message: /'cfg1'; enable the allLogs diagnostic setting/,
  },
  {
    name: 'not associated',
    account: anAccount({ kind: 'AIServices' }),
    outcome: 'not_applicable',
    code: 'not-applicable',
    message: /no Succeeded/,
  },
  {
    name: 'no configuration returned (NSP-05 reports drift)',
    account: anAccount({ associations: [enforced], perimeterConfigurations: [] }),
    outcome: 'unknown',
    code: 'perimeter-configuration-missing',
    message: /NSP-05 reports the drift/,
  },
  {
    name: 'configurations unread',
    account: anAccount({ associations: [enforced], perimeterConfigurations: unreadable() }),
    outcome: 'unknown',
    code: 'perimeter-configurations-unread',
    message: /simulated/,
  },
]);
