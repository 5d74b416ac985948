# azd postprovision hook (Windows): Reader and Log Analytics Reader (NSP-07) for the auditor's identity on each management group named in
# AUDITED_MANAGEMENT_GROUPS. Same as postprovision.sh; needs the Azure CLI, signed in.
$ErrorActionPreference = 'Stop'
$groups = @(("$env:AUDITED_MANAGEMENT_GROUPS" -split ',') | ForEach-Object { $_.Trim() } | Where-Object { $_ })
if ($groups.Count -eq 0) {
  Write-Host 'perimeter-auditor: no management groups to audit (AUDITED_MANAGEMENT_GROUPS is empty)'
  exit 0
}
if (-not $env:AUDITOR_PRINCIPAL_ID) { throw 'AUDITOR_PRINCIPAL_ID is not set: run azd provision first' }
if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
  throw 'the Azure CLI (az) is needed to grant Reader on management groups: install it, az login, then azd hooks run postprovision'
}
$envName = if ($env:AZURE_ENV_NAME) { $env:AZURE_ENV_NAME } else { 'default' }
$template = Join-Path $PSScriptRoot '../modules/readermanagementgroup.bicep'
foreach ($group in $groups) {
  Write-Host "perimeter-auditor: Reader and Log Analytics Reader on management group $group for principal $env:AUDITOR_PRINCIPAL_ID"
  az deployment mg create --management-group-id $group --location $env:AZURE_LOCATION `
    --name "perimeter-auditor-reader-$envName" --template-file $template `
    --parameters "principalId=$env:AUDITOR_PRINCIPAL_ID" --only-show-errors --output none
  if ($LASTEXITCODE -ne 0) { throw "Reader on management group $group failed" }
}
