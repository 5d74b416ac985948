/**
 * Documents the rules cite. `shared/reference/` file names stand for Microsoft documents kept beside
 * the project; the meta-test checks that every rule cites at least one learn.microsoft.com page.
 */
export const REF = {
  openAiPerimeter: 'https://learn.microsoft.com/azure/ai-foundry/openai/how-to/network-security-perimeter',
  foundryPerimeter: 'https://learn.microsoft.com/azure/ai-foundry/how-to/add-foundry-to-network-security-perimeter',
  perimeterConcepts: 'https://learn.microsoft.com/azure/private-link/network-security-perimeter-concepts',
  perimeterLogs: 'https://learn.microsoft.com/azure/private-link/network-security-perimeter-diagnostic-logs',
  perimeterConfigurationsApi:
    'https://learn.microsoft.com/rest/api/aiservices/accountmanagement/network-security-perimeter-configurations',
  virtualNetworks: 'https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks',
  dataLossPrevention: 'https://learn.microsoft.com/azure/ai-services/cognitive-services-data-loss-prevention',
  managedIdentity: 'https://learn.microsoft.com/azure/ai-foundry/openai/how-to/managed-identity',
  batchBlobStorage: 'https://learn.microsoft.com/azure/ai-foundry/openai/how-to/batch-blob-storage',
  rbacBestPractices: 'https://learn.microsoft.com/azure/role-based-access-control/best-practices',
  disableLocalAuth: 'https://learn.microsoft.com/azure/ai-services/disable-local-auth',
  customerManagedKeys:
    'https://learn.microsoft.com/azure/ai-services/encryption/cognitive-services-encryption-keys-portal',
  privateEndpoints:
    'https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks#use-private-endpoints',
  /** shared/reference/ file names */
  docOpenAiPerimeter: 'azure-openai-network-security-perimeter.md',
  docFoundryPerimeter: 'foundry-network-security-perimeter.md',
  docPerimeterConcepts: 'network-security-perimeter-concepts.md',
  docVirtualNetworks: 'ai-services-virtual-networks.txt',
} as const;

/** MCSB v1 and Azure Policy IDs used by the catalog (RULES.md, "Compliance mappings"). */
export const POLICY = {
  publicNetworkAccess: '037eea7a-bd0a-46c5-9a66-03aea78705d3',
  privateLink: 'd6759c02-b87f-42b7-892e-71b3f471d782',
  managedIdentity: 'fe3fd216-4f83-4fc1-8984-2bbec80a3418',
  localAuth: '71ef260a-8f18-47b7-abcb-62d0673d94dc',
  customerManagedKeys: '67121cc7-ff39-4ab8-b7e3-95b84dab487d',
} as const;

/** No anchor in that tool (RULES.md lists none). */
export const NO_ANCHOR = { azurePolicy: '—', psrule: '—', azqr: '—' } as const;
