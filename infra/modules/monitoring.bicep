// Application Insights on a Log Analytics workspace (workspace-based; classic resources are retired).
param workspaceName string
param appInsightsName string
param location string
param tags object

@description('Days of log retention (30 is included in the ingestion price).')
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: false
  }
}

// An ingestion-only connection string (it cannot read telemetry back).
output connectionString string = appInsights.properties.ConnectionString
output workspaceId string = workspace.id
