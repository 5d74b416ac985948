// perimeter-auditor: the Function App, its storage, monitoring, Key Vault, roles and change events, the
// findings export to Log Analytics with its workbook, and optionally a Microsoft Sentinel rule.
// Deployed by `azd up` (azure.yaml); the guide is docs/deploy.md. test/infra/drift.test.ts checks this
// file against the code: every setting the code reads is set here (and nothing else), and no role
// assignment grants more than Reader and Log Analytics Reader (NSP-07) on the audited scopes, Storage Blob/Queue Data Contributor on the
// app's own storage account, Key Vault Secrets User on its own vault and Monitoring Metrics Publisher on its own
// data collection rule.
targetScope = 'subscription'

@minLength(1)
@maxLength(48)
@description('azd environment name; resource names and tags derive from it.')
param environmentName string

@minLength(1)
@description('Region of the auditor\'s resources (Flex Consumption must be offered there).')
param location string

@description('Subscriptions to audit, comma-separated IDs. Each gets Reader for the app\'s identity. Empty, with no management groups: this subscription.')
param auditedSubscriptionIds string = ''

@description('Management groups to audit, comma-separated names. Reader on them is granted by infra/hooks/postprovision (a management-group deployment).')
param auditedManagementGroups string = ''

@description('Subscriptions whose changes are evaluated at once (an Event Grid system topic in each), comma-separated IDs. Empty: the audited subscriptions.')
param eventSubscriptionIds string = ''

@description('Create the Event Grid subscriptions to the resourceChanged function. Event Grid needs the function to exist, so infra/hooks/postdeploy sets this after the first code deployment and provisions again.')
param deployEventSubscriptions bool = false

@description('SCAN_SCHEDULE: NCRONTAB schedule of the scheduled scan (six fields).')
param scanSchedule string = '0 0 */6 * * *'

@allowed(['true', 'false'])
@description('DEEP_INSPECTION: read per-account perimeter configurations (NSP-05, NSP-06).')
param deepInspection string = 'true'

@description('DEEP_INSPECTION_CONCURRENCY: concurrent per-account ARM reads (1-64).')
param deepInspectionConcurrency string = '8'

@description('SHARD_ABOVE_SUBSCRIPTIONS: a scheduled scan of more subscriptions fans out on the scan-shards queue.')
param shardAboveSubscriptions string = '1000'

@description('SHARD_TIMEOUT_MINUTES: minutes after which a fanned-out scan with missing shards is committed as partial.')
param shardTimeoutMinutes string = '120'

@description('Alert webhooks, comma-separated NAME:format[:minSeverity] (e.g. SECOPS:cloudevents,TEAMS:teams:medium), written to ALERT_WEBHOOKS as JSON. Each webhook\'s URL and secret are Key Vault secrets (docs/deploy.md).')
param alertWebhooks string = ''

@allowed(['high', 'medium', 'low'])
@description('ALERT_MIN_SEVERITY: lowest severity alerted, unless a webhook sets its own.')
param alertMinSeverity string = 'high'

@description('POLICY_BLOB: name of a blob in the audit container holding the policy.')
param policyBlob string = ''

@minValue(0)
@description('Days scans (scans/) and event evaluations (events/) are kept in the audit container; 0 keeps them for ever.')
param retentionDays int = 400

@description('Maximum instances of the Flex Consumption app.')
param maximumInstanceCount int = 40

@description('Resource ID of a Log Analytics workspace with Microsoft Sentinel enabled that holds the export tables (the auditor\'s own: output AUDITOR_LOG_ANALYTICS_WORKSPACE_ID): a scheduled analytics rule there raises an incident for each new high-severity fail. Empty: no Sentinel rule.')
param sentinelWorkspaceId string = ''

var tags = { 'azd-env-name': environmentName, application: 'perimeter-auditor' }
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var auditContainerName = 'audit'
var deploymentContainerName = 'app-package-${resourceToken}'
// Queues of the code: scan-requests (src/app.ts SCAN_QUEUE), scan-shards (src/shards.ts SHARD_QUEUE),
// and the poison queues the host and src/shards.ts move failed messages to.
var queueNames = ['scan-requests', 'scan-requests-poison', 'scan-shards', 'scan-shards-poison']

var requestedSubscriptions = filter(map(split(auditedSubscriptionIds, ','), s => trim(s)), s => !empty(s))
var managementGroups = filter(map(split(auditedManagementGroups, ','), s => trim(s)), s => !empty(s))
var auditedSubscriptions = empty(requestedSubscriptions) && empty(managementGroups) ? [subscription().subscriptionId] : requestedSubscriptions
var requestedEventSubscriptions = filter(map(split(eventSubscriptionIds, ','), s => trim(s)), s => !empty(s))
var eventSubscriptions = empty(requestedEventSubscriptions) ? auditedSubscriptions : requestedEventSubscriptions
// NAME:format[:minSeverity] → { name, format, minSeverity? } (the ALERT_WEBHOOKS entries of src/config/alerts.ts).
var webhookSpecs = filter(map(split(alertWebhooks, ','), s => split(trim(s), ':')), parts => !empty(parts[0]))
var webhooks = map(webhookSpecs, parts => union({ name: parts[0], format: parts[1] }, toObject(take(skip(parts, 2), 1), x => 'minSeverity', x => x)))
var keyVaultName = 'kv-${resourceToken}'
var workspaceName = 'log-${resourceToken}'
// /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.OperationalInsights/workspaces/{name}; a
// placeholder when empty, so that the (skipped) module's scope still evaluates.
var sentinelWorkspace = split(empty(sentinelWorkspaceId) ? '/subscriptions/${subscription().subscriptionId}/resourceGroups/none/providers/Microsoft.OperationalInsights/workspaces/none' : sentinelWorkspaceId, '/')
var eventsGroupName = 'rg-${environmentName}-events'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-auditor-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: workspaceName
    appInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

// Findings and scans to Log Analytics (src/export/tables.ts): the custom tables in that workspace, the
// data collection rule the app uploads through, and its one role there.
module logExport 'modules/logexport.bicep' = {
  name: 'logexport'
  scope: rg
  params: {
    workspaceName: workspaceName
    dcrName: 'dcr-auditor-${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
  dependsOn: [monitoring]
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceId: monitoring.outputs.workspaceId
  }
}

module sentinel 'modules/sentinel.bicep' = if (!empty(sentinelWorkspaceId)) {
  name: 'sentinel'
  scope: resourceGroup(sentinelWorkspace[2], sentinelWorkspace[4])
  params: {
    workspaceName: sentinelWorkspace[8]
  }
  // Sentinel validates the rule's query when it is created: the tables must exist by then.
  dependsOn: [logExport]
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    containerNames: [auditContainerName, deploymentContainerName]
    queueNames: queueNames
    principalId: identity.outputs.principalId
    retentionPrefixes: ['${auditContainerName}/scans/', '${auditContainerName}/events/']
    retentionDays: retentionDays
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    planName: 'plan-${resourceToken}'
    appName: 'func-auditor-${resourceToken}'
    location: location
    tags: union(tags, { 'azd-service-name': 'auditor' })
    identityId: identity.outputs.id
    deploymentStorageUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    maximumInstanceCount: maximumInstanceCount
  }
}

// Each webhook's URL and signing secret are Key Vault secrets, referenced (never copied) here; the app
// resolves them with its identity (keyVaultReferenceIdentity), which holds Key Vault Secrets User. Only
// CloudEvents webhooks are signed (src/config/alerts.ts), so only they get a secret reference.
var webhookUrlSettings = toObject(webhooks, w => 'ALERT_WEBHOOK_${w.name}_URL', w => '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${toLower(replace('alert-webhook-${w.name}-url', '_', '-'))})')
var webhookSecretSettings = toObject(filter(webhooks, w => w.format == 'cloudevents'), w => 'ALERT_WEBHOOK_${w.name}_SECRET', w => '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${toLower(replace('alert-webhook-${w.name}-secret', '_', '-'))})')

var appSettings = {
  // Host storage with the identity (shared-key access is off on the account).
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  // The settings of src/config/settings.ts.
  AZURE_CLIENT_ID: identity.outputs.clientId
  AZURE_CLOUD: environment().name
  SCAN_SCHEDULE: scanSchedule
  SCAN_SUBSCRIPTIONS: join(auditedSubscriptions, ',')
  SCAN_MANAGEMENT_GROUPS: join(managementGroups, ',')
  DEEP_INSPECTION: deepInspection
  DEEP_INSPECTION_CONCURRENCY: deepInspectionConcurrency
  SHARD_ABOVE_SUBSCRIPTIONS: shardAboveSubscriptions
  SHARD_TIMEOUT_MINUTES: shardTimeoutMinutes
  AUDIT_STORAGE_ACCOUNT_URL: storage.outputs.blobEndpoint
  AUDIT_CONTAINER: auditContainerName
  ALERT_WEBHOOKS: string(webhooks)
  ALERT_MIN_SEVERITY: alertMinSeverity
  REPORT_BASE_URL: 'https://${functionApp.outputs.defaultHostName}/api'
  POLICY_BLOB: policyBlob
  LOGS_INGESTION_ENDPOINT: logExport.outputs.logsIngestionEndpoint
  LOGS_DCR_IMMUTABLE_ID: logExport.outputs.immutableId
}

module settings 'modules/appsettings.bicep' = {
  name: 'appsettings'
  scope: rg
  params: {
    appName: functionApp.outputs.name
    settings: union(appSettings, webhookUrlSettings, webhookSecretSettings)
  }
  // The references resolve with the identity's role on the vault.
  dependsOn: [vault]
}

// Reader and Log Analytics Reader on each audited subscription; on management groups: infra/hooks/postprovision.
module reader 'modules/reader.bicep' = [for subscriptionId in auditedSubscriptions: {
  name: 'reader-${uniqueString(subscriptionId, environmentName)}'
  scope: subscription(subscriptionId)
  params: {
    principalId: identity.outputs.principalId
  }
}]

module eventsGroup 'modules/eventsgroup.bicep' = [for subscriptionId in eventSubscriptions: {
  name: 'events-rg-${uniqueString(subscriptionId, environmentName)}'
  scope: subscription(subscriptionId)
  params: {
    name: eventsGroupName
    location: location
    tags: tags
  }
}]

module changeEvents 'modules/changeevents.bicep' = [for (subscriptionId, i) in eventSubscriptions: {
  name: 'events-${uniqueString(subscriptionId, environmentName)}'
  scope: resourceGroup(subscriptionId, eventsGroupName)
  dependsOn: [eventsGroup[i]]
  params: {
    topicName: 'evgt-auditor-${uniqueString(subscriptionId, environmentName)}'
    subscriptionId: subscriptionId
    tags: tags
    functionId: functionApp.outputs.id
    deployEventSubscription: deployEventSubscriptions
  }
}]

// azd stores these in the environment (.azure/<env>/.env); the hooks read them.
output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AUDITOR_FUNCTION_APP_NAME string = functionApp.outputs.name
output AUDITOR_PRINCIPAL_ID string = identity.outputs.principalId
output AUDITOR_CLIENT_ID string = identity.outputs.clientId
output AUDITOR_STORAGE_ACCOUNT string = storage.outputs.name
output AUDITOR_KEY_VAULT_NAME string = vault.outputs.name
output AUDITOR_REPORT_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output AUDITED_MANAGEMENT_GROUPS string = join(managementGroups, ',')
output AUDITOR_LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceId
output AUDITOR_WORKBOOK_ID string = workbook.outputs.id
