# azd postdown hook (Windows): same as postdown.sh.
$ErrorActionPreference = 'Stop'
azd env set DEPLOY_EVENT_SUBSCRIPTIONS false
if ($LASTEXITCODE -ne 0) { throw 'azd env set failed' }
