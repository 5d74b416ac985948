#!/bin/sh
# azd postdown hook: the Function App was deleted, so the next `azd up` must create the function
# before its Event Grid subscriptions (infra/hooks/postdeploy.sh).
set -eu
azd env set DEPLOY_EVENT_SUBSCRIPTIONS false
