// The Function App's user-assigned managed identity: one principal for Resource Graph, Resource Manager,
// host storage, the audit store and Key Vault references.
@description('Identity name.')
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
