# azd postdeploy hook (Windows): same as postdeploy.sh.
$ErrorActionPreference = 'Stop'
if ($env:DEPLOY_EVENT_SUBSCRIPTIONS -eq 'true') {
  Write-Host 'perimeter-auditor: Event Grid subscriptions are already provisioned'
  exit 0
}
Write-Host 'perimeter-auditor: the resourceChanged function now exists; provisioning its Event Grid subscriptions'
azd env set DEPLOY_EVENT_SUBSCRIPTIONS true
if ($LASTEXITCODE -ne 0) { throw 'azd env set failed' }
azd provision --no-prompt
if ($LASTEXITCODE -ne 0) { throw 'azd provision failed' }
