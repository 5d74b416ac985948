import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { ArmReadError, ARM_API_VERSIONS } from '../../src/collect/armReads.js';
import { simulatorArm, SUB_FORBIDDEN, SUB_PROD, withSimulator } from '../helpers/sample.js';

const ACCOUNT = `/subscriptions/${SUB_PROD}/resourceGroups/rg-ai-prod/providers/Microsoft.CognitiveServices/accounts/oai-chat-prod`;
const PERIMETER = `/subscriptions/${SUB_PROD}/resourceGroups/rg-network-prod/providers/Microsoft.Network/networkSecurityPerimeters/nsp-ai-prod`;

describe('ARM reads through the SDK ServiceClient', () => {
  it('reads a resource, a perimeter\'s children, role assignments by principal; 404 is absent; 403 and 5xx throw', async () => {
    await withSimulator(
      { fault: (r) => (r.kind === 'arm' && r.path.endsWith('/boom') ? { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'later' } } } : undefined) },
      async (sim) => {
        const arm = simulatorArm(sim);
        const account = (await arm.get(ACCOUNT, ARM_API_VERSIONS.cognitiveServices)) as { kind: string; identity: { principalId: string } };
        assert.equal(account.kind, 'OpenAI');
        const associations = (await arm.list(`${PERIMETER}/resourceAssociations`, ARM_API_VERSIONS.network)) as Array<{ id: string }>;
        assert.equal(associations.length, 7); // with cosmos-rag-prod's (issue 21)
        const rules = await arm.list(`${PERIMETER}/profiles/ai-prod-profile/accessRules`, ARM_API_VERSIONS.network);
        assert.equal(rules.length, 3);
        const ras = (await arm.list(`/subscriptions/${SUB_PROD}/providers/Microsoft.Authorization/roleAssignments`, ARM_API_VERSIONS.authorization, {
          $filter: `principalId eq '${account.identity.principalId}'`,
        })) as Array<{ properties: { principalId: string } }>;
        assert.equal(ras.length, 1);
        assert.equal(await arm.get(`${ACCOUNT}-gone`, ARM_API_VERSIONS.cognitiveServices), undefined);
        await assert.rejects(arm.get(`/subscriptions/${SUB_FORBIDDEN}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/x`, '2024-10-01'), (e: ArmReadError) => e.statusCode === 403 && !e.transient);
        await assert.rejects(arm.get(`/subscriptions/${SUB_PROD}/boom`, '2024-10-01'), (e: ArmReadError) => e.statusCode === 503 && e.transient);
        assert.ok(arm.requests >= 7);
      },
    );
  });
});
