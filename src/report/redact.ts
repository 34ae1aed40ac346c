// Report stage: --redact. Replaces IP addresses (and prefixes), GUIDs (subscription, tenant,
// workspace ids) and the rule names built from them with keyed hashes, in any text output (Markdown,
// JSON, HTML), so a report can go to a wider audience. The same key gives the same hashes, so
// redacted reports stay comparable run to run. Without NSPA_REDACT_KEY a public default key is
// used, and a hash of an IPv4 address can then be reversed by trying all 2^32 of them.

import { createHmac } from 'node:crypto';
import { parseIPv4, parseIPv6 } from '../model/ip.js';

export const DEFAULT_REDACT_KEY = 'nsp-advisor';

const IPV4 = /(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])/g;
// Not inside a longer address: no hex digit or dot just before, nor a hex digit and a colon.
const IPV6 = /(?<![0-9A-Fa-f.])(?<![0-9A-Fa-f.]:)((?:[0-9A-Fa-f]{1,4}|(?=::))(?::[0-9A-Fa-f]{0,4}){2,8})(?![\w:])/g;
const GUID = /(?<![0-9A-Fa-f])([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![0-9A-Fa-f])/g;
// Labels cut short for a chart ("in-sub-11111111-1111-…"): whatever hex, digits, dots and colons
// precede the ellipsis may be the start of an address or id.
const CUT_SHORT = /[0-9A-Fa-f.:-]*\d[0-9A-Fa-f.:-]*…/g;
// Rule names of IPv6 prefixes spell the address with dashes (in-ip-2001-db8--1_128).
const IPV6_RULE_NAME = /\bin-ip-([0-9a-f]{0,4}(?:-[0-9a-f]{0,4}){2,8})_(\d{1,3})\b/g;

/** Redacts every address and GUID in `text` with hashes keyed by `key`. */
export function redactText(text: string, key = DEFAULT_REDACT_KEY): string {
  const hash = (kind: string, value: string): string => `${kind}-${createHmac('sha256', key).update(`${kind}:${value.toLowerCase()}`).digest('hex').slice(0, 12)}`;
  return text
    .replace(IPV6_RULE_NAME, (_m, addr: string, len: string) => `in-ip-${hash('ip', addr.replace(/-/g, ':'))}_${len}`)
    .replace(GUID, (m) => hash('id', m))
    .replace(IPV4, (m) => (parseIPv4(m) >= 0 ? hash('ip', m) : m))
    .replace(IPV6, (m) => ((m.includes('::') || m.split(':').length === 8) && parseIPv6(m) !== null ? hash('ip', m) : m))
    .replace(CUT_SHORT, '…');
}
