import { allOf, fact } from '../domain/observed.js';
import { idKey, storageAccountOfScope } from '../domain/resourceId.js';
import { defineRule, type RuleParameters } from '../domain/rule.js';
import type { AccountSnapshot } from '../domain/snapshot.js';
import { associated, hasManagedIdentity, isSucceeded, roleIn, STORAGE_DATA_ROLE_IDS } from './facts.js';
import { NO_ANCHOR, REF } from './references.js';

/** Storage accounts (IDs as given) on which the account's principals hold a storage data role, at or below the account. */
function reachableStorage(account: AccountSnapshot, params: RuleParameters): string[] {
  if (!account.roleAssignments.ok) return [];
  const storageRoles = STORAGE_DATA_ROLE_IDS.filter((r) => roleIn(r, params.dataAccessRoleIds));
  const byKey = new Map<string, string>();
  for (const a of account.roleAssignments.value) {
    if (!roleIn(a.roleId, storageRoles)) continue;
    const storageId = storageAccountOfScope(a.scope);
    if (storageId !== undefined && !byKey.has(idKey(storageId))) byKey.set(idKey(storageId), storageId);
  }
  return [...byKey.values()];
}

/**
 * ID-04: every storage account the identity can reach shares the account's perimeter or is allowed
 * by an outbound rule of its profile (RULES.md; azure-openai-network-security-perimeter.md: place
 * Azure OpenAI and its Blob Storage in the same perimeter).
 */
export default defineRule({
  id: 'ID-04',
  slug: 'data-sources-in-perimeter',
  aliases: [],
  title: 'Storage the identity can reach shares the account\'s perimeter or is allowed by an outbound rule',
  severity: 'medium',
  enabledByDefault: true,
  deepInspection: false,
  appliesToText:
    'associated accounts with a managed identity whose principals hold a storage data role scoped to a storage account (or below it)',
  rationale:
    'A data source outside the perimeter and not named by an outbound rule is either unreachable once the perimeter is enforced, or reached by a path the perimeter does not govern.',
  remediation: {
    description:
      'Associate the storage account with the account\'s perimeter, or add an outbound rule for its blob endpoint.',
    az: 'az network perimeter association create --subscription <perimeter-subscription> --resource-group <perimeter-rg> --perimeter-name <perimeter> --association-name <storage>-assoc --private-link-resource "{id:<storage-account-resource-id>}" --profile "{id:<profile-resource-id>}" --access-mode Learning',
    bicep: `// Deploy to resource group '<perimeter-rg>' of subscription <perimeter-subscription>.
resource perimeter 'Microsoft.Network/networkSecurityPerimeters@2023-08-01-preview' existing = {
  name: '<perimeter>'
}

resource storageAssociation 'Microsoft.Network/networkSecurityPerimeters/resourceAssociations@2023-08-01-preview' = {
  parent: perimeter
  name: '<storage>-assoc'
  properties: {
    privateLinkResource: { id: '<storage-account-resource-id>' }
    profile: { id: '<profile-resource-id>' }
    accessMode: 'Enforced'
  }
}`,
  },
  references: [REF.openAiPerimeter, REF.batchBlobStorage, REF.docOpenAiPerimeter, REF.docFoundryPerimeter],
  controls: { mcsb: ['NS-2'], azurePolicy: [], cis: [] },
  anchors: NO_ANCHOR,
  appliesTo: (account, ctx) =>
    allOf(
      () => associated(account, ctx.params),
      () => hasManagedIdentity(account),
      () => {
        if (!account.roleAssignments.ok) return account.roleAssignments;
        const reachable = reachableStorage(account, ctx.params);
        return reachable.length > 0
          ? fact(true, `the identity holds a storage data role on ${reachable.length} storage account(s)`)
          : fact(false, 'the identity holds no storage data role scoped to a storage account');
      },
    ),
  evaluate(account, ctx) {
    if (!account.associations.ok) {
      return {
        outcome: 'unknown', code: 'perimeter-associations-unread',
        message: `Perimeter associations could not be read: ${account.associations.reason}`,
      };
    }
    const perimeters = new Set(account.associations.value.filter(isSucceeded).map((a) => idKey(a.perimeterId)));
    const verdicts: Array<{ storageId: string; status: 'ok' | 'not_ok' | 'unknown'; why: string }> = [];
    for (const storageId of reachableStorage(account, ctx.params)) {
      const storage = ctx.tenant.storageAccounts.get(idKey(storageId));
      if (storage === undefined) {
        verdicts.push({ storageId, status: 'unknown', why: 'not in the storage inventory the scan read' });
        continue;
      }
      const sharesPerimeter = storage.perimeterIds.ok
        ? [...storage.perimeterIds.value].some((p) => perimeters.has(p))
        : undefined;
      const fqdn = `${storage.name}.blob.core.windows.net`.toLowerCase();
      const allowedOutbound = account.accessRules.ok
        ? account.accessRules.value.some(
            (r) =>
              r.direction.toLowerCase() === 'outbound'
              && r.fullyQualifiedDomainNames.some((f) => f.toLowerCase() === fqdn),
          )
        : undefined;
      if (sharesPerimeter === true) {
        verdicts.push({ storageId, status: 'ok', why: 'associated with the account\'s perimeter' });
      } else if (allowedOutbound === true) {
        verdicts.push({ storageId, status: 'ok', why: `outbound rule allows ${fqdn}` });
      } else if (sharesPerimeter === false && allowedOutbound === false) {
        verdicts.push({
          storageId,
          status: 'not_ok',
          why: `'${storage.name}' is outside the account's perimeter and no outbound rule allows ${fqdn}`,
        });
      } else {
        const reason = !storage.perimeterIds.ok
          ? storage.perimeterIds.reason
          : !account.accessRules.ok
              ? account.accessRules.reason
              : 'undetermined';
        verdicts.push({ storageId, status: 'unknown', why: `could not be decided: ${reason}` });
      }
    }
    const evidence = { storageAccounts: verdicts };
    const notOk = verdicts.filter((v) => v.status === 'not_ok');
    if (notOk.length > 0) {
      return {
        outcome: 'fail', code: 'data-source-outside-perimeter',
        message: `Reachable storage outside the perimeter: ${notOk.map((v) => v.why).join('; ')}.`,
        evidence,
      };
    }
    const unknown = verdicts.filter((v) => v.status === 'unknown');
    if (unknown.length > 0) {
      return {
        outcome: 'unknown', code: 'data-source-unchecked',
        message: `Storage the identity can reach could not be checked: ${unknown.map((v) => `${v.storageId} ${v.why}`).join('; ')}.`,
        evidence,
      };
    }
    return {
      outcome: 'pass', code: 'data-sources-in-perimeter',
      message: `Every storage account the identity can reach (${verdicts.length}) shares the perimeter or is allowed by an outbound rule.`,
      evidence,
    };
  },
});
