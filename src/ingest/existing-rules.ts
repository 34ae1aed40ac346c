// Ingest stage: reads the access rules already in place, as `az network perimeter profile
// access-rule list` prints them (properties flattened) or as ARM returns them (`properties`,
// single objects or `{"value":[…]}` pages). A rule is placed by the profile path inside its id.

import { readFile } from 'node:fs/promises';
import { NspError } from '../errors.js';
import type { Direction } from '../model/category.js';
import type { ExistingRule } from '../model/existing-rules.js';
import { canonicalPerimeterId } from './normalize.js';
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
  const directionValue = getKey(props, 'direction');
  const directionText = typeof directionValue === 'string' ? directionValue.toLowerCase() : '';
  let direction: Direction;
  if (directionText === 'inbound') direction = 'Inbound';
  else if (directionText === 'outbound') direction = 'Outbound';
  else throw bad(`direction ${JSON.stringify(directionValue) ?? 'undefined'} is neither Inbound nor Outbound`);
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
    // Kept as written: a rule emitted with its full content (--extend-existing) must not change the
    // elements in place; matching compares canonical forms (src/recommend/coverage.ts).
    fullyQualifiedDomainNames: strings(getKey(props, 'fullyqualifieddomainnames')).map((f) => f.trim()),
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

/** Rules from a rules review document (`recommend` output), as rules that would be in place. */
export function rulesFromReviewDocument(json: Record<string, unknown>, path: string): ExistingRule[] {
  const profiles = getKey(json, 'profiles');
  if (!Array.isArray(profiles)) throw new NspError('input-invalid', `Cannot read rules review document "${path}": no "profiles" array`);
  const rules: ExistingRule[] = [];
  profiles.forEach((p, i) => {
    const where = `profile #${i} in "${path}"`;
    if (!isPlainObject(p) || typeof p.perimeterId !== 'string' || typeof p.profile !== 'string' || !Array.isArray(p.rules)) {
      throw new NspError('input-invalid', `Cannot read ${where}: it needs perimeterId, profile and rules`);
    }
    const perimeterId = canonicalPerimeterId(p.perimeterId);
    if (perimeterId === '') throw new NspError('input-invalid', `Cannot read ${where}: "${p.perimeterId}" is not a perimeter id`);
    const profile = p.profile.toLowerCase();
    (p.rules as unknown[]).forEach((r, j) => {
      const id = `${perimeterId}/profiles/${profile}/accessRules/${isPlainObject(r) && typeof r.name === 'string' ? r.name : `rule${j}`}`;
      rules.push(parseExistingRule(isPlainObject(r) ? { ...r, id } : r, `#${j} of ${where}`));
    });
  });
  return rules;
}

/** Rules read from files, and the profiles whose complete rule list was given (az/ARM listings). */
export interface RuleFiles {
  rules: ExistingRule[];
  /** `perimeterId\u0001profile` of every profile an az/ARM listing covered. */
  listedProfiles: Set<string>;
}

/** Key of a profile in RuleFiles.listedProfiles. */
export function profileKey(perimeterId: string, profile: string): string {
  return `${perimeterId}\u0001${profile}`;
}

/**
 * Reads rules files of either kind: a rules review document (`recommend` output: rules to add) or
 * the JSON of `az network perimeter profile access-rule list` / ARM (rules in place).
 */
export async function readRuleFiles(paths: readonly string[]): Promise<RuleFiles> {
  const result: RuleFiles = { rules: [], listedProfiles: new Set() };
  for (const path of paths) {
    const json = await readJsonFile(path);
    if (isPlainObject(json) && Array.isArray(getKey(json, 'profiles'))) {
      result.rules.push(...rulesFromReviewDocument(json, path));
    } else {
      const rules = parseExistingRules(json, path);
      for (const r of rules) result.listedProfiles.add(profileKey(r.perimeterId, r.profile));
      result.rules.push(...rules);
    }
  }
  return result;
}

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new NspError('input-missing', `Cannot read "${path}": ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new NspError('input-invalid', `Cannot parse "${path}" as JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads one or more rules files. @throws NspError input-missing / input-invalid naming the file */
export async function readExistingRules(paths: readonly string[]): Promise<ExistingRule[]> {
  const rules: ExistingRule[] = [];
  for (const path of paths) rules.push(...parseExistingRules(await readJsonFile(path), path));
  return rules;
}
