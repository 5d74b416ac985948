// The Azure Monitor workbook over the export tables (infra/workbooks/perimeter-auditor.workbook.json),
// shared in the resource group and linked to the auditor's workspace: compliance over time, fails by rule
// and severity, the accounts that regressed this week, perimeter mode (NSP-02) and enforcement readiness
// (NSP-07) of the latest scan. test/unit/shippedKql.test.ts checks every query of that file with
// Microsoft's Kusto parser; the drift check holds the deployed content to the file.
param location string
param tags object

@description('Resource ID of the Log Analytics workspace that holds the export tables.')
param workspaceId string

@description('The workbook\'s name in the portal.')
param displayName string = 'perimeter-auditor'

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's resource name is a GUID; the same one for the same workspace on every deployment.
  name: guid(workspaceId, 'perimeter-auditor-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    version: 'Notebook/1.0'
    sourceId: workspaceId
    // The file's placeholder resource becomes the workspace: the queries run there when the workbook is
    // opened from Monitor > Workbooks as when it is opened from the workspace.
    serializedData: replace(loadTextContent('../workbooks/perimeter-auditor.workbook.json'), '__AUDITOR_WORKSPACE_ID__', workspaceId)
  }
}

output id string = workbook.id
output name string = workbook.name
