#!/bin/sh
# azd postdeploy hook: Event Grid validates an Azure Function destination when the event subscription
# is created, so the subscriptions to resourceChanged can only be made once the code is deployed. On
# the first deployment of an environment this sets DEPLOY_EVENT_SUBSCRIPTIONS=true and provisions
# again (only the event subscriptions are new). Later runs find it set and do nothing.
set -eu

if [ "${DEPLOY_EVENT_SUBSCRIPTIONS:-false}" = "true" ]; then
  echo "perimeter-auditor: Event Grid subscriptions are already provisioned"
  exit 0
fi
echo "perimeter-auditor: the resourceChanged function now exists; provisioning its Event Grid subscriptions"
azd env set DEPLOY_EVENT_SUBSCRIPTIONS true
azd provision --no-prompt
