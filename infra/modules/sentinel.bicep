// Optional (main.bicep deploys it only when sentinelWorkspaceId names a workspace): a Microsoft Sentinel
// scheduled analytics rule on that workspace, raising an incident for each new high-severity fail
// (infra/sentinel/new-high-fail.kql, checked by test/unit/shippedKql.test.ts). The query reads
// PerimeterAuditorFindings_CL in the workspace it runs in, so the workspace must hold the export tables
// (the auditor's own, with Microsoft Sentinel enabled on it); Sentinel validates the query when the rule
// is created, and refuses it where the table does not exist.
@description('Name of the Sentinel-enabled Log Analytics workspace (in this deployment\'s resource group).')
param workspaceName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource newHighFail 'Microsoft.SecurityInsights/alertRules@2024-09-01' = {
  scope: workspace
  name: guid(workspace.id, 'perimeter-auditor-new-high-fail')
  kind: 'Scheduled'
  properties: {
    displayName: 'perimeter-auditor: new high-severity fail'
    description: 'A finding of a perimeter-auditor scan is a high-severity, not exempted fail of an Azure AI account, and the previous scan of that account and rule did not fail. The account is the alert\'s Azure resource entity; the rule, message and scan are its details.'
    enabled: true
    severity: 'High'
    query: loadTextContent('../sentinel/new-high-fail.kql')
    // Every hour, over 14 days: the previous scan of an account and rule is within the period at any
    // schedule up to daily; the query itself keeps the rows ingested in the last hour.
    queryFrequency: 'PT1H'
    queryPeriod: 'P14D'
    triggerOperator: 'GreaterThan'
    triggerThreshold: 0
    suppressionEnabled: false
    suppressionDuration: 'PT1H'
    eventGroupingSettings: {
      aggregationKind: 'AlertPerResult'
    }
    alertDetailsOverride: {
      alertDisplayNameFormat: 'perimeter-auditor: {{RuleId}} fails on {{AccountName}}'
      alertDescriptionFormat: '{{Message}}'
    }
    customDetails: {
      RuleId: 'RuleId'
      Account: 'AccountName'
      PreviousOutcome: 'PreviousOutcome'
      ScanId: 'ScanId'
    }
    entityMappings: [
      {
        entityType: 'AzureResource'
        fieldMappings: [
          {
            identifier: 'ResourceId'
            columnName: 'ResourceId'
          }
        ]
      }
    ]
    incidentConfiguration: {
      createIncident: true
      groupingConfiguration: {
        enabled: false
        reopenClosedIncident: false
        lookbackDuration: 'PT5H'
        matchingMethod: 'AllEntities'
      }
    }
  }
}

output ruleId string = newHighFail.id
