import type { Row, SimulatorTenant } from '../../src/simulator/server.js';
import { SUB_PROD, sampleTenant } from './sample.js';

/** Names and tags an account owner controls, chosen to break reports that do not escape. */
export const HOSTILE = {
  markupName: '"><img src=x onerror=window.__pwned=1>',
  formulaName: '=HYPERLINK("evil.example","click")',
  perimeterName: '<svg onload=window.__pwned=4>',
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

/** The sample tenant plus two accounts with hostile names and tags, one in a hostile-named perimeter. */
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
  return { ...t, resources: [...t.resources, markup, formula], networkresources: [...t.networkresources, association] };
}
