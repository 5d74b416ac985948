// Reader and Log Analytics Reader (NSP-07's access-log queries) on one audited management group (inherited by its subscriptions). A subscription deployment
// cannot assign roles at a management group, so infra/hooks/postprovision deploys this file with
// `az deployment mg create` for each name in AUDITED_MANAGEMENT_GROUPS.
targetScope = 'managementGroup'

@description('Principal ID of the Function App\'s managed identity (the AUDITOR_PRINCIPAL_ID output).')
param principalId string

var reader = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'

resource readerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(managementGroup().id, principalId, reader)
  properties: {
    roleDefinitionId: tenantResourceId('Microsoft.Authorization/roleDefinitions', reader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource logAnalyticsReaderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(managementGroup().id, principalId, logAnalyticsReader)
  properties: {
    roleDefinitionId: tenantResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
