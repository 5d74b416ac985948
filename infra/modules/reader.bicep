// Reader on one audited subscription: Resource Graph queries, the per-account perimeter configurations,
// role assignments and storage accounts that change events re-read. Log Analytics Reader there too: NSP-07
// queries the perimeters' access logs in the workspaces of the subscription (README, "Enforcement readiness").
// Nothing the auditor does writes.
targetScope = 'subscription'

@description('Principal ID of the Function App\'s managed identity.')
param principalId string

var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'

resource readerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', reader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource logAnalyticsReaderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, logAnalyticsReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
