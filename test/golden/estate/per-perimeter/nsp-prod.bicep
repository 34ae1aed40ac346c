// NSP access rules recommended by nsp-advisor for perimeter nsp-prod (resource group rg-nsp, subscription 00000000-0000-0000-0000-000000000000).
// Deploy to that resource group: az deployment group create --subscription 00000000-0000-0000-0000-000000000000 --resource-group rg-nsp --template-file <this file>
// Each rule is a PUT: a rule of the same name already in place is replaced with this content.

@description('Name of the network security perimeter (resource group rg-nsp, subscription 00000000-0000-0000-0000-000000000000).')
param nspName string = 'nsp-prod'

resource perimeter_nsp_prod 'Microsoft.Network/networkSecurityPerimeters@2024-07-01' existing = {
  name: nspName
}

resource profile_nsp_prod_analytics 'Microsoft.Network/networkSecurityPerimeters/profiles@2024-07-01' existing = {
  parent: perimeter_nsp_prod
  name: 'analytics'
}

resource rule_nsp_prod_analytics_in_ip_192_0_2_200_32 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_prod_analytics
  name: 'in-ip-192.0.2.200_32'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [
      '192.0.2.200/32'
    ]
  }
}

resource rule_nsp_prod_analytics_out_fqdn_api_contoso_com 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_prod_analytics
  name: 'out-fqdn-api.contoso.com'
  properties: {
    direction: 'Outbound'
    fullyQualifiedDomainNames: [
      'api.contoso.com'
    ]
  }
}

resource rule_nsp_prod_analytics_out_fqdn_hooks_partner_example 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_prod_analytics
  name: 'out-fqdn-hooks.partner.example'
  properties: {
    direction: 'Outbound'
    fullyQualifiedDomainNames: [
      'hooks.partner.example'
    ]
  }
}

resource profile_nsp_prod_defaultprofile 'Microsoft.Network/networkSecurityPerimeters/profiles@2024-07-01' existing = {
  parent: perimeter_nsp_prod
  name: 'defaultprofile'
}

resource rule_nsp_prod_defaultprofile_in_ip_192_0_2_10_32 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_prod_defaultprofile
  name: 'in-ip-192.0.2.10_32'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [
      '192.0.2.10/32'
    ]
  }
}

resource rule_nsp_prod_defaultprofile_in_ip_198_51_100_16_31 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_prod_defaultprofile
  name: 'in-ip-198.51.100.16_31'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [
      '198.51.100.16/31'
    ]
  }
}

resource rule_nsp_prod_defaultprofile_in_ip_203_0_113_0_30 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_prod_defaultprofile
  name: 'in-ip-203.0.113.0_30'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [
      '203.0.113.0/30'
    ]
  }
}

resource rule_nsp_prod_defaultprofile_in_ip_2001_db8_10_4_127 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_prod_defaultprofile
  name: 'in-ip-2001-db8-10--4_127'
  properties: {
    direction: 'Inbound'
    addressPrefixes: [
      '2001:db8:10::4/127'
    ]
  }
}

resource rule_nsp_prod_defaultprofile_in_sub_11111111_1111_1111_1111_111111111111 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01' = {
  parent: profile_nsp_prod_defaultprofile
  name: 'in-sub-11111111-1111-1111-1111-111111111111'
  properties: {
    direction: 'Inbound'
    subscriptions: [
      {
        id: '/subscriptions/11111111-1111-1111-1111-111111111111'
      }
    ]
  }
}
