// Key Vault for the webhook URLs and signing secrets (ALERT_WEBHOOK_<NAME>_URL / _SECRET), referenced
// from app settings as @Microsoft.KeyVault(...) and resolved by the platform with the app's identity.
// Authorization is Azure RBAC: the identity holds Key Vault Secrets User on this vault only.
param name string
param location string
param tags object

@description('Principal ID of the Function App\'s managed identity.')
param principalId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

// Read-only access to secrets (values and metadata): what a Key Vault reference needs, nothing more (it
// cannot create, change or delete secrets, nor touch keys or certificates).
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
