// The Function App's app settings (all of them: this replaces the set). Built in main.bicep, where
// test/infra/drift.test.ts compares them with the settings the code reads.
param appName string

@description('Setting name to value.')
param settings object

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: settings
}
