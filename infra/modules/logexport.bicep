// The findings export to Log Analytics (AZURE-FACTS.md "Logs Ingestion API"): two custom tables in the
// auditor's workspace, a data collection rule of kind Direct (its own logs ingestion endpoint, no data
// collection endpoint) whose streams feed them unchanged, and Monitoring Metrics Publisher on that rule,
// and nothing wider, for the app's identity. The columns are those of src/export/tables.ts (FINDINGS_TABLE,
// SCANS_TABLE); the drift check compares the tables, the stream declarations and the code column by column.
param workspaceName string
param location string
param tags object

@description('Principal ID of the Function App\'s managed identity (it uploads the rows).')
param principalId string

@description('Data collection rule name.')
param dcrName string

// Monitoring Metrics Publisher: the role the Logs Ingestion API requires on the data collection rule.
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// The tables: `{Name}_CL`, fed by the stream `Custom-{Name}` (the one the code names in each upload).
var tables = [
  {
    name: 'PerimeterAuditorFindings_CL'
    stream: 'Custom-PerimeterAuditorFindings'
    description: 'perimeter-auditor: one row per finding of a scan or of a change evaluation'
    columns: [
      { name: 'TimeGenerated', type: 'datetime' }
      { name: 'ScanId', type: 'string' }
      { name: 'RuleId', type: 'string' }
      { name: 'Outcome', type: 'string' }
      { name: 'Severity', type: 'string' }
      { name: 'ResourceId', type: 'string' }
      { name: 'SubscriptionId', type: 'string' }
      { name: 'ResourceGroup', type: 'string' }
      { name: 'AccountName', type: 'string' }
      { name: 'Kind', type: 'string' }
      { name: 'Location', type: 'string' }
      { name: 'Message', type: 'string' }
      { name: 'Exempted', type: 'boolean' }
      { name: 'Controls', type: 'dynamic' }
      { name: 'Source', type: 'string' }
    ]
  }
  {
    name: 'PerimeterAuditorScans_CL'
    stream: 'Custom-PerimeterAuditorScans'
    description: 'perimeter-auditor: one row per committed scan (status, coverage, counts)'
    columns: [
      { name: 'TimeGenerated', type: 'datetime' }
      { name: 'ScanId', type: 'string' }
      { name: 'Status', type: 'string' }
      { name: 'StartedAt', type: 'datetime' }
      { name: 'Accounts', type: 'long' }
      { name: 'CompliantAccounts', type: 'long' }
      { name: 'CompliantPercent', type: 'real' }
      { name: 'SubscriptionsInScope', type: 'long' }
      { name: 'SubscriptionsRead', type: 'long' }
      { name: 'Coverage', type: 'string' }
      { name: 'Pass', type: 'long' }
      { name: 'Fail', type: 'long' }
      { name: 'Unknown', type: 'long' }
      { name: 'NotApplicable', type: 'long' }
      { name: 'FailHigh', type: 'long' }
      { name: 'FailMedium', type: 'long' }
      { name: 'FailLow', type: 'long' }
      { name: 'ExemptedFails', type: 'long' }
    ]
  }
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource table 'Microsoft.OperationalInsights/workspaces/tables@2023-09-01' = [for t in tables: {
  parent: workspace
  name: t.name
  properties: {
    plan: 'Analytics'
    schema: {
      name: t.name
      description: t.description
      columns: t.columns
    }
  }
}]

resource dcr 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: dcrName
  location: location
  tags: tags
  kind: 'Direct'
  properties: {
    description: 'perimeter-auditor findings and scans, sent with the Logs Ingestion API'
    streamDeclarations: toObject(tables, t => t.stream, t => { columns: t.columns })
    destinations: {
      logAnalytics: [
        {
          name: 'auditor'
          workspaceResourceId: workspace.id
        }
      ]
    }
    // Each stream to its own table, rows kept as sent.
    dataFlows: [for t in tables: {
      streams: [t.stream]
      destinations: ['auditor']
      transformKql: 'source'
      outputStream: 'Custom-${t.name}'
    }]
  }
  // A data flow's output table must exist when the rule is created.
  dependsOn: [table]
}

// Upload rows through this rule only: not the workspace, not the resource group.
resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dcr.id, principalId, monitoringMetricsPublisher)
  scope: dcr
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// LOGS_INGESTION_ENDPOINT and LOGS_DCR_IMMUTABLE_ID (src/config/settings.ts).
output logsIngestionEndpoint string = dcr.properties.endpoints.logsIngestion
output immutableId string = dcr.properties.immutableId
output dcrId string = dcr.id
