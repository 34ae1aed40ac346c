// Model shared by ingest → analyze → recommend: NSP log categories and the decision class each one
// implies once an association is switched to Enforced (architecture.md, "Decision classes").

export type Direction = 'Inbound' | 'Outbound';

/**
 * What a flow of this category means for enforcement:
 * - blocker: allowed today only by the resource's own rules; denied under Enforced unless a rule covers it
 * - covered: allowed by an NSP access rule already
 * - denied: denied today and still denied
 * - exempt: not governed by access rules (private endpoint, same perimeter, perimeter link)
 */
export type DecisionClass = 'blocker' | 'covered' | 'denied' | 'exempt';

export interface CategoryInfo {
  /** Canonical spelling, as the current docs write it. */
  readonly name: string;
  readonly direction: Direction;
  readonly decision: DecisionClass;
}

const CANONICAL: readonly CategoryInfo[] = [
  { name: 'NspPublicInboundResourceRulesAllowed', direction: 'Inbound', decision: 'blocker' },
  { name: 'NspPublicOutboundResourceRulesAllowed', direction: 'Outbound', decision: 'blocker' },
  { name: 'NspPublicInboundPerimeterRulesAllowed', direction: 'Inbound', decision: 'covered' },
  { name: 'NspPublicOutboundPerimeterRulesAllowed', direction: 'Outbound', decision: 'covered' },
  { name: 'NspPublicInboundResourceRulesDenied', direction: 'Inbound', decision: 'denied' },
  { name: 'NspPublicOutboundResourceRulesDenied', direction: 'Outbound', decision: 'denied' },
  { name: 'NspPublicInboundPerimeterRulesDenied', direction: 'Inbound', decision: 'denied' },
  { name: 'NspPublicOutboundPerimeterRulesDenied', direction: 'Outbound', decision: 'denied' },
  { name: 'NspIntraPerimeterInboundAllowed', direction: 'Inbound', decision: 'exempt' },
  // Deprecated ("to be deprecated" in older lists), still accepted.
  { name: 'NspIntraPerimeterOutboundAllowed', direction: 'Outbound', decision: 'exempt' },
  { name: 'NspPrivateInboundAllowed', direction: 'Inbound', decision: 'exempt' },
  { name: 'NspCrossPerimeterInboundAllowed', direction: 'Inbound', decision: 'exempt' },
  { name: 'NspCrossPerimeterOutboundAllowed', direction: 'Outbound', decision: 'exempt' },
  // An outbound attempt towards a perimeter member, not a public-outbound verdict (reference §2.2).
  { name: 'NspOutboundAttempt', direction: 'Outbound', decision: 'exempt' },
  // Old profile-level categories (reference §2.1): accepted, mapped by their meaning.
  { name: 'NSPInboundAccessAllowed', direction: 'Inbound', decision: 'covered' },
  { name: 'NSPInboundAccessDenied', direction: 'Inbound', decision: 'denied' },
  { name: 'NSPOutboundAccessAllowed', direction: 'Outbound', decision: 'covered' },
  { name: 'NSPOutboundAccessDenied', direction: 'Outbound', decision: 'denied' },
];

const BY_LOWER_NAME = new Map<string, CategoryInfo>();
for (const info of CANONICAL) {
  BY_LOWER_NAME.set(info.name.toLowerCase(), info);
  // The 2024 docs spelled the categories with a "perimeter" prefix instead of "Nsp" (reference §2.1).
  if (info.name.startsWith('Nsp')) BY_LOWER_NAME.set(`perimeter${info.name.slice(3)}`.toLowerCase(), info);
}

/**
 * Looks a category up, ignoring case (storage containers spell it in lower case).
 * @returns the canonical category, or undefined for a category the tool does not know
 */
export function lookupCategory(raw: string): CategoryInfo | undefined {
  return BY_LOWER_NAME.get(raw.trim().toLowerCase());
}

/** Every canonical category, in a fixed order (for help text and tests). */
export const categories: readonly CategoryInfo[] = CANONICAL;
