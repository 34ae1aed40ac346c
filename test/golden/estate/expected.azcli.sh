#!/usr/bin/env bash
# NSP access rules recommended by nsp-advisor, as Azure CLI commands (extension nsp).
# Safe to re-run: "access-rule create" is a PUT, so the same content gives the same rule. It replaces
# the whole rule, so a rule of the same name changed since is overwritten with this content.
set -euo pipefail

az extension add --name nsp --upgrade --only-show-errors

# Perimeter nsp-dev (resource group rg-dev, subscription 00000000-0000-0000-0000-000000000000), profile devprofile
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-dev' \
  --perimeter-name 'nsp-dev' \
  --profile-name 'devprofile' \
  --name 'in-ip-192.0.2.33_32' \
  --direction 'Inbound' \
  --address-prefixes '["192.0.2.33/32"]'
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-dev' \
  --perimeter-name 'nsp-dev' \
  --profile-name 'devprofile' \
  --name 'in-ip-192.0.2.34_32' \
  --direction 'Inbound' \
  --address-prefixes '["192.0.2.34/32"]'

# Perimeter nsp-prod (resource group rg-nsp, subscription 00000000-0000-0000-0000-000000000000), profile analytics
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-nsp' \
  --perimeter-name 'nsp-prod' \
  --profile-name 'analytics' \
  --name 'in-ip-192.0.2.200_32' \
  --direction 'Inbound' \
  --address-prefixes '["192.0.2.200/32"]'
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-nsp' \
  --perimeter-name 'nsp-prod' \
  --profile-name 'analytics' \
  --name 'out-fqdn-api.contoso.com' \
  --direction 'Outbound' \
  --fqdn '["api.contoso.com"]'
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-nsp' \
  --perimeter-name 'nsp-prod' \
  --profile-name 'analytics' \
  --name 'out-fqdn-hooks.partner.example' \
  --direction 'Outbound' \
  --fqdn '["hooks.partner.example"]'

# Perimeter nsp-prod (resource group rg-nsp, subscription 00000000-0000-0000-0000-000000000000), profile defaultprofile
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-nsp' \
  --perimeter-name 'nsp-prod' \
  --profile-name 'defaultprofile' \
  --name 'in-ip-192.0.2.10_32' \
  --direction 'Inbound' \
  --address-prefixes '["192.0.2.10/32"]'
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-nsp' \
  --perimeter-name 'nsp-prod' \
  --profile-name 'defaultprofile' \
  --name 'in-ip-198.51.100.16_31' \
  --direction 'Inbound' \
  --address-prefixes '["198.51.100.16/31"]'
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-nsp' \
  --perimeter-name 'nsp-prod' \
  --profile-name 'defaultprofile' \
  --name 'in-ip-203.0.113.0_30' \
  --direction 'Inbound' \
  --address-prefixes '["203.0.113.0/30"]'
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-nsp' \
  --perimeter-name 'nsp-prod' \
  --profile-name 'defaultprofile' \
  --name 'in-ip-2001-db8-10--4_127' \
  --direction 'Inbound' \
  --address-prefixes '["2001:db8:10::4/127"]'
az network perimeter profile access-rule create \
  --subscription '00000000-0000-0000-0000-000000000000' \
  --resource-group 'rg-nsp' \
  --perimeter-name 'nsp-prod' \
  --profile-name 'defaultprofile' \
  --name 'in-sub-11111111-1111-1111-1111-111111111111' \
  --direction 'Inbound' \
  --subscriptions '[{"id":"/subscriptions/11111111-1111-1111-1111-111111111111"}]'
