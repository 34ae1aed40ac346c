// Ingest stage: turns one raw row (a storage-account record, an Event Hubs record, a Log Analytics
// row or a CSV row, any key casing) into a normalized NspRecord, or says why it cannot (an Issue).
// Field mapping: nsp-reference.md §3.4 (raw name → NSPAccessLogs column).

import { lookupCategory } from '../model/category.js';
import type { IssueCode } from '../model/issue.js';
import type { NspRecord, PeerKind } from '../model/record.js';
import { canonicalFqdn } from '../model/fqdn.js';
import { formatAddress, parseLoggedIp } from '../model/ip.js';

export { canonicalFqdn };

export type NormalizeResult =
  | { ok: true; record: NspRecord }
  | { ok: false; code: IssueCode; message: string; hits: number };

type Flat = Map<string, unknown>;

/**
 * Flattens a row into lower-case keys. Raw records nest fields under `properties`, `source` and
 * `destination`; those become `sourceipaddress`, `destinationfullyqualifieddomainname`, … so that
 * raw and Log Analytics spellings meet (SourceIpAddress, DestinationFqdn, …).
 */
function flatten(row: Record<string, unknown>): Flat {
  const flat: Flat = new Map();
  const put = (prefix: string, obj: Record<string, unknown>): void => {
    for (const [key, value] of Object.entries(obj)) {
      const lower = key.toLowerCase();
      if (prefix === '' && lower === 'properties') {
        const props = asObject(value);
        if (props) put('', props);
        continue;
      }
      if (prefix === '' && (lower === 'source' || lower === 'destination')) {
        const nested = asObject(value);
        if (nested) { put(lower, nested); continue; }
      }
      const name = prefix + lower;
      // First spelling wins, so a top-level field is never overwritten by a nested one.
      if (!flat.has(name)) flat.set(name, value);
    }
  };
  put('', row);
  return flat;
}

/** An object, or a JSON string holding one (Log Analytics stores nested values as text). */
function asObject(value: unknown): Record<string, unknown> | undefined {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  if (typeof value === 'string' && value.trimStart().startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // Not JSON after all: the caller treats the field as absent.
    }
  }
  return undefined;
}

function text(flat: Flat, ...names: string[]): string {
  for (const name of names) {
    const v = flat.get(name);
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') { const t = v.trim(); if (t !== '') return t; continue; }
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  }
  return '';
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;
// The portal's CSV export writes en-US local-format times, e.g. "11/12/2026, 8:03:02.000 PM".
const PORTAL = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),? (\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)? ?([AaPp][Mm])$/;

/** Times outside [2000, 2100) are not NSP logs (NSP appeared in 2021): a typo or a hostile row. */
export const EARLIEST_LOG_TIME = Date.UTC(2000, 0, 1);
export const LATEST_LOG_TIME = Date.UTC(2100, 0, 1);

/** The time, or NaN when it is outside the plausible range. */
function plausible(ms: number): number {
  return ms >= EARLIEST_LOG_TIME && ms < LATEST_LOG_TIME ? ms : NaN;
}

/**
 * Parses the timestamps NSP logs carry. A time without a zone is UTC (the raw `time` has no `Z`;
 * the portal labels its columns `[UTC]`). @returns epoch ms, or NaN
 */
export function parseLogTime(raw: string): number {
  const s = raw.trim();
  let m = ISO.exec(s);
  if (m) {
    const [, y, mo, d, h, mi, sec, frac, zone] = m;
    let ms = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, sec ? +sec : 0, fractionMs(frac));
    if (!validParts(+y!, +mo!, +d!, +h!, +mi!, sec ? +sec : 0)) return NaN;
    if (zone && zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    }
    return plausible(ms);
  }
  m = PORTAL.exec(s);
  if (m) {
    const [, mo, d, y, h12, mi, sec, frac, ampm] = m;
    const hour12 = +h12!;
    if (hour12 < 1 || hour12 > 12) return NaN;
    const hour = (hour12 % 12) + (ampm!.toLowerCase() === 'pm' ? 12 : 0);
    if (!validParts(+y!, +mo!, +d!, hour, +mi!, sec ? +sec : 0)) return NaN;
    return plausible(Date.UTC(+y!, +mo! - 1, +d!, hour, +mi!, sec ? +sec : 0, fractionMs(frac)));
  }
  return NaN;
}

/** Milliseconds of a fraction's digits, truncated ("1234567" → 123), in integer arithmetic. */
function fractionMs(digits: string | undefined): number {
  return digits ? Number(digits.slice(0, 3).padEnd(3, '0')) : 0;
}

function validParts(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

const PERIMETER_ID = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.network\/networksecurityperimeters\/([^/]+)(?:\/.*)?$/i;

/**
 * Canonical perimeter id: keywords in ARM's usual casing, values in lower case (ARM ids are
 * case-insensitive; raw logs write them in upper case, Log Analytics in lower case).
 * A profile-level id is cut back to its perimeter. @returns '' when it is not a perimeter id
 */
export function canonicalPerimeterId(raw: string): string {
  const m = PERIMETER_ID.exec(raw.trim());
  if (!m) return '';
  const [, sub, rg, name] = m;
  return `/subscriptions/${sub!.toLowerCase()}/resourceGroups/${rg!.toLowerCase()}/providers/Microsoft.Network/networkSecurityPerimeters/${name!.toLowerCase()}`;
}

/** Canonical ARM resource id: trimmed, lower case, no trailing slash. */
export function canonicalResourceId(raw: string): string {
  return raw.trim().replace(/\/+$/, '').toLowerCase();
}

function parseCount(flat: Flat): number {
  const v = flat.get('count');
  if (v === undefined || v === null || v === '') return 1; // "missing = 1" (reference §3.3)
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : NaN;
  if (typeof v === 'string' && /^\s*\d{1,15}\s*$/.test(v)) return Number(v);
  return NaN;
}

function matchedRuleName(flat: Flat): string {
  const v = flat.get('matchedrule');
  if (typeof v === 'string' && !v.trimStart().startsWith('{')) return v.trim();
  const obj = asObject(v);
  if (!obj) return '';
  for (const [key, value] of Object.entries(obj)) {
    if (key.toLowerCase() === 'accessrule' && typeof value === 'string') return value.trim();
  }
  return '';
}

const fail = (code: IssueCode, message: string, hits: number): NormalizeResult => ({ ok: false, code, message, hits });

/**
 * Normalizes one row. Keys are matched case-insensitively; `properties` may be an object or JSON
 * text; `matchedRule` an object or JSON text; `count` a number or a string (missing = 1).
 */
export function normalizeRow(row: Record<string, unknown>): NormalizeResult {
  const flat = flatten(row);
  const count = parseCount(flat);
  const hits = Number.isNaN(count) ? 0 : count;
  if (Number.isNaN(count)) return fail('invalid-count', `Cannot read count "${String(flat.get('count'))}"`, 0);

  const categoryText = text(flat, 'category');
  if (categoryText === '') return fail('missing-field', 'Cannot use row: no category', hits);
  const category = lookupCategory(categoryText);
  if (!category) return fail('unknown-category', `Cannot classify category "${categoryText}"`, hits);

  const timeText = text(flat, 'timegenerated', 'time');
  if (timeText === '') return fail('missing-field', 'Cannot use row: no TimeGenerated/time', hits);
  const time = parseLogTime(timeText);
  if (Number.isNaN(time)) return fail('invalid-time', `Cannot parse time "${timeText}"`, hits);
  const endText = text(flat, 'timegeneratedendtime');
  let endTime = time;
  if (endText !== '') {
    endTime = parseLogTime(endText);
    if (Number.isNaN(endTime)) return fail('invalid-time', `Cannot parse TimeGeneratedEndTime "${endText}"`, hits);
    if (endTime < time) endTime = time;
  }

  const perimeterText = text(flat, '_resourceid', 'resourceid');
  if (perimeterText === '') return fail('missing-field', 'Cannot use row: no resourceId/_ResourceId (the perimeter)', hits);
  const perimeterId = canonicalPerimeterId(perimeterText);
  if (perimeterId === '') return fail('invalid-perimeter', `Cannot read perimeter from "${perimeterText}"`, hits);

  const profile = text(flat, 'profile').toLowerCase();
  if (profile === '') return fail('missing-field', 'Cannot use row: no profile', hits);

  let peerKind: PeerKind = 'none';
  let peer = '';
  let sourceIp = '';
  const ipText = text(flat, 'sourceipaddress');
  if (ipText !== '') {
    const ip = parseLoggedIp(ipText);
    if (!ip) return fail('invalid-ip', `Cannot parse source IP "${ipText}"`, hits);
    sourceIp = formatAddress(ip);
  }
  if (category.direction === 'Inbound') {
    const sourceResource = canonicalResourceId(text(flat, 'sourceresourceid'));
    if (sourceResource !== '') { peerKind = 'resource'; peer = sourceResource; }
    else if (sourceIp !== '') { peerKind = 'ip'; peer = sourceIp; }
  } else {
    const fqdnText = text(flat, 'destinationfqdn', 'destinationfullyqualifieddomainname');
    if (fqdnText !== '') {
      const fqdn = canonicalFqdn(fqdnText);
      if (fqdn === '') return fail('invalid-fqdn', `Cannot read destination FQDN "${fqdnText}"`, hits);
      peerKind = 'fqdn';
      peer = fqdn;
    } else {
      const destResource = canonicalResourceId(text(flat, 'destinationresourceid'));
      if (destResource !== '') { peerKind = 'resource'; peer = destResource; }
    }
  }

  return {
    ok: true,
    record: {
      time, endTime, count, perimeterId, profile,
      category: category.name, direction: category.direction, decision: category.decision,
      resourceId: canonicalResourceId(text(flat, 'serviceresourceid')),
      peerKind, peer, sourceIp: peerKind === 'resource' ? sourceIp : '',
      matchedRule: matchedRuleName(flat),
      operation: text(flat, 'operationname'),
    },
  };
}
