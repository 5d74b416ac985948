// Change events of one audited subscription: an Event Grid system topic of type
// Microsoft.Resources.Subscriptions and, once the function exists, an event subscription that delivers
// the operations src/events/route.ts acts on (ROUTED_OPERATIONS) to the resourceChanged function.
// Everything else is dropped by Event Grid, not billed to the function. Role assignments are delivered
// whatever their scope (a Search service's included); Cosmos DB's data-plane role assignments
// (sqlRoleAssignments) are resources of their own with their own operations.

@description('System topic name.')
param topicName string

@description('The audited subscription (the topic\'s source).')
param subscriptionId string

param tags object

@description('Resource ID of the Function App.')
param functionId string

@description('Create the event subscription (the function must already exist: infra/hooks/postdeploy).')
param deployEventSubscription bool

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: topicName
  location: 'global'
  tags: tags
  properties: {
    source: '/subscriptions/${subscriptionId}'
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource toFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (deployEventSubscription) {
  parent: topic
  name: 'resource-changed'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionId}/functions/resourceChanged'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Resources.ResourceWriteSuccess'
        'Microsoft.Resources.ResourceDeleteSuccess'
        'Microsoft.Resources.ResourceActionSuccess'
      ]
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: [
            'Microsoft.CognitiveServices/accounts/write'
            'Microsoft.CognitiveServices/accounts/delete'
            'Microsoft.CognitiveServices/accounts/networkSecurityPerimeterConfigurations/reconcile/action'
            'Microsoft.Network/networkSecurityPerimeters/resourceAssociations/write'
            'Microsoft.Network/networkSecurityPerimeters/resourceAssociations/delete'
            'Microsoft.Network/networkSecurityPerimeters/profiles/write'
            'Microsoft.Network/networkSecurityPerimeters/profiles/delete'
            'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/write'
            'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/delete'
            'Microsoft.Authorization/roleAssignments/write'
            'Microsoft.Authorization/roleAssignments/delete'
            'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/write'
            'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/delete'
          ]
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output topicId string = topic.id
