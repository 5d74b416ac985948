import type { Row, SimulatorTenant } from '../../src/simulator/server.js';
import { SUB_PROD, sampleTenant } from './sample.js';

/** Names and tags an account owner controls, chosen to break reports that do not escape. */
export const HOSTILE = {
  markupName: '"><img src=x onerror=window.__pwned=1>',
  formulaName: '=HYPERLINK("evil.example","click")',
  perimeterName: '<svg onload=window.__pwned=4>',
  /** Reads as "oai-payroll-txt.exe" once U+202E (right-to-left override) reverses its tail. */
  bidiName: 'oai-payroll-\u202eexe.txt',
  /** A tag value that opens a right-to-left embedding and never closes it. */
  bidiTag: '\u202bunclosed right-to-left embedding',
  /** 3,000 characters with no break opportunity. */
  longName: `oai-${'x'.repeat(2996)}`,
  tags: {
    owner: '=HYPERLINK("http://evil.example/","click")',
    script: '<script>window.__pwned=2</script>',
    attr: '\' onmouseover=\'window.__pwned=3',
    plus: '+1+2',
    minus: '-2+3',
    at: '@SUM(1,2)',
    tab: '\t=1+1',
    cr: '\r=1+1',
  },
} as const;

const TYPE = 'microsoft.cognitiveservices/accounts';

function account(name: string, tags: Record<string, string>): Row {
  return {
    id: `/subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts/${name}`,
    name,
    type: TYPE,
    kind: 'OpenAI',
    location: 'eastus',
    subscriptionId: SUB_PROD,
    resourceGroup: 'rg-ai-prod',
    tags,
    identity: { type: 'None' },
    properties: { publicNetworkAccess: 'Enabled' },
  };
}

/**
 * The sample tenant plus accounts with hostile names and tags: markup and formulas (one in a
 * hostile-named perimeter), a right-to-left override in a name and an unclosed embedding in a tag,
 * and a 3,000-character name.
 */
export async function hostileTenant(): Promise<SimulatorTenant> {
  const t = await sampleTenant();
  const markup = account(HOSTILE.markupName, { ...HOSTILE.tags });
  const formula = account(HOSTILE.formulaName, { owner: HOSTILE.tags.owner });
  const perimeter = `/subscriptions/${SUB_PROD}/resourceGroups/rg-network-prod/providers/Microsoft.Network/networkSecurityPerimeters/${HOSTILE.perimeterName}`;
  const association: Row = {
    id: `${perimeter}/resourceAssociations/hostile-assoc`,
    type: 'microsoft.network/networksecurityperimeters/resourceassociations',
    subscriptionId: SUB_PROD,
    properties: { privateLinkResource: { id: markup.id }, profile: { id: `${perimeter}/profiles/p` }, accessMode: 'Learning', provisioningState: 'Succeeded' },
  };
  const bidi = account(HOSTILE.bidiName, { note: HOSTILE.bidiTag });
  const long = account(HOSTILE.longName, {});
  return { ...t, resources: [...t.resources, markup, formula, bidi, long], networkresources: [...t.networkresources, association] };
}
