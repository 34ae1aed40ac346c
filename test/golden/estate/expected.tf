# NSP access rules recommended by nsp-advisor, as azurerm_network_security_perimeter_access_rule resources (azurerm).
# Each rule is a PUT: a rule of the same name already in place is replaced. Changing a rule's
# direction or profile makes Terraform replace it.

variable "nsp_dev_devprofile_profile_id" {
  type        = string
  description = "Resource id of profile devprofile of perimeter nsp-dev (resource group rg-dev)."
  default     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-dev/providers/Microsoft.Network/networkSecurityPerimeters/nsp-dev/profiles/devprofile"
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_dev_devprofile_in_ip_192_0_2_33_32" {
  name                                  = "in-ip-192.0.2.33_32"
  network_security_perimeter_profile_id = var.nsp_dev_devprofile_profile_id
  direction                             = "Inbound"
  address_prefixes                      = ["192.0.2.33/32"]
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_dev_devprofile_in_ip_192_0_2_34_32" {
  name                                  = "in-ip-192.0.2.34_32"
  network_security_perimeter_profile_id = var.nsp_dev_devprofile_profile_id
  direction                             = "Inbound"
  address_prefixes                      = ["192.0.2.34/32"]
}

variable "nsp_prod_analytics_profile_id" {
  type        = string
  description = "Resource id of profile analytics of perimeter nsp-prod (resource group rg-nsp)."
  default     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-nsp/providers/Microsoft.Network/networkSecurityPerimeters/nsp-prod/profiles/analytics"
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_prod_analytics_in_ip_192_0_2_200_32" {
  name                                  = "in-ip-192.0.2.200_32"
  network_security_perimeter_profile_id = var.nsp_prod_analytics_profile_id
  direction                             = "Inbound"
  address_prefixes                      = ["192.0.2.200/32"]
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_prod_analytics_out_fqdn_api_contoso_com" {
  name                                  = "out-fqdn-api.contoso.com"
  network_security_perimeter_profile_id = var.nsp_prod_analytics_profile_id
  direction                             = "Outbound"
  fqdns                                 = ["api.contoso.com"]
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_prod_analytics_out_fqdn_hooks_partner_example" {
  name                                  = "out-fqdn-hooks.partner.example"
  network_security_perimeter_profile_id = var.nsp_prod_analytics_profile_id
  direction                             = "Outbound"
  fqdns                                 = ["hooks.partner.example"]
}

variable "nsp_prod_defaultprofile_profile_id" {
  type        = string
  description = "Resource id of profile defaultprofile of perimeter nsp-prod (resource group rg-nsp)."
  default     = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-nsp/providers/Microsoft.Network/networkSecurityPerimeters/nsp-prod/profiles/defaultprofile"
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_prod_defaultprofile_in_ip_192_0_2_10_32" {
  name                                  = "in-ip-192.0.2.10_32"
  network_security_perimeter_profile_id = var.nsp_prod_defaultprofile_profile_id
  direction                             = "Inbound"
  address_prefixes                      = ["192.0.2.10/32"]
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_prod_defaultprofile_in_ip_198_51_100_16_31" {
  name                                  = "in-ip-198.51.100.16_31"
  network_security_perimeter_profile_id = var.nsp_prod_defaultprofile_profile_id
  direction                             = "Inbound"
  address_prefixes                      = ["198.51.100.16/31"]
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_prod_defaultprofile_in_ip_203_0_113_0_30" {
  name                                  = "in-ip-203.0.113.0_30"
  network_security_perimeter_profile_id = var.nsp_prod_defaultprofile_profile_id
  direction                             = "Inbound"
  address_prefixes                      = ["203.0.113.0/30"]
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_prod_defaultprofile_in_ip_2001_db8_10_4_127" {
  name                                  = "in-ip-2001-db8-10--4_127"
  network_security_perimeter_profile_id = var.nsp_prod_defaultprofile_profile_id
  direction                             = "Inbound"
  address_prefixes                      = ["2001:db8:10::4/127"]
}

resource "azurerm_network_security_perimeter_access_rule" "nsp_prod_defaultprofile_in_sub_11111111_1111_1111_1111_111111111111" {
  name                                  = "in-sub-11111111-1111-1111-1111-111111111111"
  network_security_perimeter_profile_id = var.nsp_prod_defaultprofile_profile_id
  direction                             = "Inbound"
  subscription_ids                      = ["/subscriptions/11111111-1111-1111-1111-111111111111"]
}
