// NSP access rules recommended by nsp-advisor for perimeter nsp-dev (resource group rg-dev, subscription 00000000-0000-0000-0000-000000000000).
// Deploy to that resource group: az deployment group create --subscription 00000000-0000-0000-0000-000000000000 --resource-group rg-dev --template-file <this file>
// Each rule is a PUT: a rule of the same name already in place is replaced with this content.

@description('Name of the network security perimeter (resource group rg-dev, subscription 00000000-0000-0000-0000-000000000000).')
param nspName string = 'nsp-dev'

resource perimeter_nsp_dev 'Microsoft.Network/networkSecurityPerimeters@2024-07-01' existing = {
  name: nspName
}

resource profile_nsp_dev_devprofile 'Microsoft.Network/networkSecurityPerimeters/profiles@2024-07-01' existing = {
  parent: perimeter_nsp_dev
  name: 'devprofile'
}

resource rule_nsp_dev_devprofile_in_ip_192_0_2_33_32 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_dev_devprofile
  name: 'in-ip-192.0.2.33_32'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [
      '192.0.2.33/32'
    ]
  }
}

resource rule_nsp_dev_devprofile_in_ip_192_0_2_34_32 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_dev_devprofile
  name: 'in-ip-192.0.2.34_32'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [
      '192.0.2.34/32'
    ]
  }
}
