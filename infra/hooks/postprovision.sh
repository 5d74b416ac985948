#!/bin/sh
# azd postprovision hook: Reader and Log Analytics Reader (NSP-07) for the auditor's identity on each management group named in
# AUDITED_MANAGEMENT_GROUPS (comma-separated). Needs the Azure CLI, signed in (`az login`) as someone
# who may assign roles there (Owner or User Access Administrator on the management group).
# Inputs (azd environment): AUDITED_MANAGEMENT_GROUPS, AUDITOR_PRINCIPAL_ID, AZURE_LOCATION, AZURE_ENV_NAME.
set -eu

groups=$(printf '%s' "${AUDITED_MANAGEMENT_GROUPS:-}" | tr ',' ' ')
if [ -z "$(printf '%s' "$groups" | tr -d ' ')" ]; then
  echo "perimeter-auditor: no management groups to audit (AUDITED_MANAGEMENT_GROUPS is empty)"
  exit 0
fi
: "${AUDITOR_PRINCIPAL_ID:?AUDITOR_PRINCIPAL_ID is not set: run azd provision first}"
: "${AZURE_LOCATION:?AZURE_LOCATION is not set}"
if ! command -v az >/dev/null 2>&1; then
  echo "perimeter-auditor: the Azure CLI (az) is needed to grant Reader on management groups: install it, az login, then azd hooks run postprovision" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
for group in $groups; do
  echo "perimeter-auditor: Reader and Log Analytics Reader on management group $group for principal $AUDITOR_PRINCIPAL_ID"
  az deployment mg create \
    --management-group-id "$group" \
    --location "$AZURE_LOCATION" \
    --name "perimeter-auditor-reader-${AZURE_ENV_NAME:-default}" \
    --template-file "$here/../modules/readermanagementgroup.bicep" \
    --parameters principalId="$AUDITOR_PRINCIPAL_ID" \
    --only-show-errors --output none
done
