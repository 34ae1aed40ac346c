// Ingest stage: reads the access rules already in place, as `az network perimeter profile
// access-rule list` prints them (properties flattened) or as ARM returns them (`properties`,
// single objects or `{"value":[…]}` pages). A rule is placed by the profile path inside its id.

import { readFile } from 'node:fs/promises';
import { NspError } from '../errors.js';
import type { Direction } from '../model/category.js';
import type { ExistingRule } from '../model/existing-rules.js';
import { canonicalPerimeterId, canonicalFqdn } from './normalize.js';
import { getKey, isPlainObject } from './source.js';

const RULE_ID = /^(\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.network\/networksecurityperimeters\/[^/]+)\/profiles\/([^/]+)\/accessrules\/([^/]+)$/i;

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Parses one rule object. @throws NspError input-invalid with the rule's position */
export function parseExistingRule(raw: unknown, where: string): ExistingRule {
  const bad = (why: string): NspError => new NspError('input-invalid', `Cannot read existing rule ${where}: ${why}`, {
    hint: 'Pass the JSON that "az network perimeter profile access-rule list" prints',
  });
  if (!isPlainObject(raw)) throw bad('not an object');
  const id = getKey(raw, 'id');
  if (typeof id !== 'string') throw bad('no "id"');
  const m = RULE_ID.exec(id.trim());
  if (!m) throw bad(`"${id}" is not an access rule id`);
  const props = isPlainObject(getKey(raw, 'properties')) ? (getKey(raw, 'properties') as Record<string, unknown>) : raw;
  const directionText = String(getKey(props, 'direction') ?? '').toLowerCase();
  let direction: Direction;
  if (directionText === 'inbound') direction = 'Inbound';
  else if (directionText === 'outbound') direction = 'Outbound';
  else throw bad(`direction "${String(getKey(props, 'direction'))}" is neither Inbound nor Outbound`);
  const subscriptions = (Array.isArray(getKey(props, 'subscriptions')) ? (getKey(props, 'subscriptions') as unknown[]) : []).map((s) => {
    const sid = isPlainObject(s) ? getKey(s, 'id') : s;
    if (typeof sid !== 'string' || !/^\/subscriptions\/[0-9a-f-]{36}$/i.test(sid.trim())) throw bad(`subscription "${JSON.stringify(s)}" is not /subscriptions/<guid>`);
    return sid.trim().toLowerCase();
  });
  return {
    perimeterId: canonicalPerimeterId(m[1]!),
    profile: m[2]!.toLowerCase(),
    name: typeof getKey(raw, 'name') === 'string' ? (getKey(raw, 'name') as string) : m[3]!,
    direction,
    addressPrefixes: strings(getKey(props, 'addressPrefixes'.toLowerCase())),
    subscriptions,
    fullyQualifiedDomainNames: strings(getKey(props, 'fullyqualifieddomainnames')).map((f) => (f.trim().startsWith('*.') ? `*.${canonicalFqdn(f.trim().slice(2))}` : canonicalFqdn(f) || f.trim().toLowerCase())),
    serviceTags: strings(getKey(props, 'servicetags')),
  };
}

/** Parses a rules file's JSON: an array, a `{"value":[…]}` page, or one rule. */
export function parseExistingRules(json: unknown, path: string): ExistingRule[] {
  let items: unknown[];
  if (Array.isArray(json)) items = json;
  else if (isPlainObject(json) && Array.isArray(getKey(json, 'value'))) items = getKey(json, 'value') as unknown[];
  else items = [json];
  return items.map((item, i) => parseExistingRule(item, `#${i} in "${path}"`));
}

/** Reads one or more rules files. @throws NspError input-missing / input-invalid naming the file */
export async function readExistingRules(paths: readonly string[]): Promise<ExistingRule[]> {
  const rules: ExistingRule[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new NspError('input-missing', `Cannot read "${path}": ${(error as Error).message}`, { cause: error });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new NspError('input-invalid', `Cannot parse existing rules "${path}": ${(error as Error).message}`, { cause: error });
    }
    rules.push(...parseExistingRules(json, path));
  }
  return rules;
}
