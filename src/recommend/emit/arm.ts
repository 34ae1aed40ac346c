// Recommend stage, emit: deployable ARM templates (resource-group scope), plus the perimeter and
// text helpers every deployable format shares. One perimeter gives one flat template; several give
// one template of nested deployments, one per perimeter (see `arm`).

import { NspError } from '../../errors.js';
import type { ProfileRules, RecommendedRule, RuleSet } from '../../model/rule-set.js';
// Type-only: erased at runtime, so the registry importing this module makes no import cycle.
import type { EmitOptions } from './index.js';

/** API version of `Microsoft.Network/networkSecurityPerimeters/*` when EmitOptions leaves it out. */
export const DEFAULT_API_VERSION = '2024-07-01';

const API_VERSION = /^\d{4}-\d{2}-\d{2}(?:-preview)?$/;

/**
 * The API version to write. Checked because it is pasted into Bicep type strings and templates as is.
 * @throws NspError 'usage' for anything but `YYYY-MM-DD` or `YYYY-MM-DD-preview`
 */
export function apiVersionOf(options: EmitOptions = {}): string {
  const version = options.apiVersion ?? DEFAULT_API_VERSION;
  if (!API_VERSION.test(version)) {
    throw new NspError('usage', `Invalid API version "${version}"`, { hint: 'Use the form 2024-07-01 (or 2024-06-01-preview)' });
  }
  return version;
}

// ---------------------------------------------------------------------------------------------
// Perimeters, shared by every deployable format

/** A perimeter of the RuleSet and those of its profiles that have rules to add, in RuleSet order. */
export interface PerimeterRules {
  /** The perimeter's ARM id, as in ProfileRules.perimeterId. */
  id: string;
  /** Subscription GUID (no `/subscriptions/` prefix). */
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** Safe as a file name and unique (case-insensitively) among the RuleSet's perimeters. */
  fileStem: string;
  profiles: ProfileRules[];
}

const PERIMETER_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityPerimeters\/([^/]+)$/i;

/**
 * Groups the profiles that have rules by perimeter. Profiles without rules are left out: deployable
 * formats only add rules, and what they could not fix stays in the review document.
 * @throws NspError 'input-invalid' when a perimeter id is not an ARM perimeter id
 */
export function perimetersWithRules(ruleSet: RuleSet): PerimeterRules[] {
  const byId = new Map<string, PerimeterRules>();
  const stems = new Set<string>();
  for (const profile of ruleSet.profiles) {
    if (profile.rules.length === 0) continue;
    let perimeter = byId.get(profile.perimeterId);
    if (!perimeter) {
      const m = PERIMETER_ID.exec(profile.perimeterId);
      if (!m) {
        throw new NspError('input-invalid', `Cannot emit rules for perimeter "${profile.perimeterId}": not a perimeter resource id`);
      }
      const name = m[3]!;
      const stem = name.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^\.+/, '') || 'perimeter';
      perimeter = {
        id: profile.perimeterId, subscriptionId: m[1]!, resourceGroup: m[2]!, name,
        fileStem: uniqueName(stem, stems), profiles: [],
      };
      byId.set(profile.perimeterId, perimeter);
    }
    perimeter.profiles.push(profile);
  }
  return [...byId.values()];
}

/**
 * Returns `base`, or `base-2`, `base-3`, … (joined with `separator`) the first not in `taken`,
 * compared case-insensitively (ARM names, file systems), and records it in `taken`.
 * `maxLength` shortens the base so that the suffixed name still fits.
 */
export function uniqueName(base: string, taken: Set<string>, separator = '-', maxLength = Infinity): string {
  for (let i = 1; ; i++) {
    const suffix = i === 1 ? '' : `${separator}${i}`;
    const candidate = `${base.slice(0, maxLength - suffix.length)}${suffix}`;
    if (!taken.has(candidate.toLowerCase())) {
      taken.add(candidate.toLowerCase());
      return candidate;
    }
  }
}

// Control characters, line and paragraph separators and bidi overrides: anything that could end a
// line comment early or make a reviewer read something other than what runs.
const UNSAFE_CLASS = '[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]';
const UNSAFE_ALL = new RegExp(UNSAFE_CLASS, 'g');
const UNSAFE_ONE = new RegExp(`^${UNSAFE_CLASS}$`);

/** `\uXXXX` for a UTF-16 code unit: the escape JSON, HCL and comments here share. */
export function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Text safe inside a `//` or `#` line comment: unsafe characters become `\uXXXX`. */
export function commentText(text: string): string {
  return text.replace(UNSAFE_ALL, unicodeEscape);
}

/** True for a character `commentText` escapes; string-literal escapers reuse it. */
export function isUnsafeChar(c: string): boolean {
  return UNSAFE_ONE.test(c);
}

/** The element property a rule carries, exactly as NspAccessRuleProperties spells it (§4.2). */
export function ruleProperties(rule: RecommendedRule): Record<string, unknown> {
  if ('addressPrefixes' in rule) return { direction: rule.direction, addressPrefixes: [...rule.addressPrefixes] };
  if ('subscriptions' in rule) return { direction: rule.direction, subscriptions: rule.subscriptions.map((s) => ({ id: s.id })) };
  return { direction: rule.direction, fullyQualifiedDomainNames: [...rule.fullyQualifiedDomainNames] };
}

// ---------------------------------------------------------------------------------------------
// ARM

const TEMPLATE_SCHEMA = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#';
const ACCESS_RULE_TYPE = 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules';
// Nested deployments with `subscriptionId`, `resourceGroup` and inner expression scope are GA here.
const DEPLOYMENTS_API_VERSION = '2022-09-01';
// ARM refuses deployment names longer than 64 characters.
const DEPLOYMENT_NAME_MAX = 64;

/**
 * A template string that ARM must read literally. ARM evaluates a string that starts with `[` and
 * ends with `]` as an expression; a leading `[[` is its escape for such a literal.
 */
export function armLiteral(text: string): string {
  return /^\[[\s\S]*\]$/.test(text) ? `[${text}` : text;
}

/** A string literal inside an ARM template expression: single quotes, `'` doubled. */
export function armExpressionString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** Deep copy of a JSON value with every string passed through armLiteral. */
function literalStrings(value: unknown): unknown {
  if (typeof value === 'string') return armLiteral(value);
  if (Array.isArray(value)) return value.map(literalStrings);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, literalStrings(v)]));
  }
  return value;
}

function where(perimeter: PerimeterRules): string {
  return `perimeter ${perimeter.name} (resource group ${perimeter.resourceGroup}, subscription ${perimeter.subscriptionId})`;
}

/** The flat template for one perimeter: parameter `nspName`, one accessRules resource per rule. */
function perimeterTemplate(perimeter: PerimeterRules, apiVersion: string): Record<string, unknown> {
  const resources = perimeter.profiles.flatMap((profile) => profile.rules.map((rule) => ({
    type: ACCESS_RULE_TYPE,
    apiVersion,
    name: `[format('{0}/{1}/{2}', parameters('nspName'), ${armExpressionString(profile.profile)}, ${armExpressionString(rule.name)})]`,
    properties: literalStrings(ruleProperties(rule)),
  })));
  return {
    $schema: TEMPLATE_SCHEMA,
    contentVersion: '1.0.0.0',
    metadata: {
      description: armLiteral(`NSP access rules recommended by nsp-advisor for ${where(perimeter)}. ` +
        'Deploy to that resource group. Each rule is a PUT: a rule of the same name already in place is replaced.'),
    },
    parameters: {
      nspName: {
        type: 'string',
        defaultValue: armLiteral(perimeter.name),
        metadata: { description: 'Name of the network security perimeter, in the resource group deployed to.' },
      },
    },
    resources,
  };
}

/**
 * ARM template(s) creating every recommended rule (`properties` exactly NspAccessRuleProperties:
 * `direction` plus the rule's one element array; no evidence).
 *
 * - One perimeter: a flat resource-group template with parameter `nspName`; deploy it to the
 *   perimeter's resource group. This is also what `emitFiles` writes per perimeter.
 * - Several perimeters: a resource-group template holds no resources of other resource groups, so
 *   it carries one nested `Microsoft.Resources/deployments` per perimeter, aimed at the perimeter's
 *   subscription and resource group, whose inner template is the one-perimeter template unchanged.
 *   Its parameters are `nspName_<perimeter>`. Deploy to any resource group you may deploy to.
 * - No rules: a valid template without resources.
 */
export function arm(ruleSet: RuleSet, options: EmitOptions = {}): string {
  const apiVersion = apiVersionOf(options);
  const perimeters = perimetersWithRules(ruleSet);
  if (perimeters.length === 1) return toJson(perimeterTemplate(perimeters[0]!, apiVersion));

  const parameterNames = new Set<string>();
  const deploymentNames = new Set<string>();
  const parameters: Record<string, unknown> = {};
  const resources = perimeters.map((perimeter) => {
    const parameter = uniqueName(`nspName_${perimeter.name.replace(/[^A-Za-z0-9_]/g, '_')}`, parameterNames, '_');
    parameters[parameter] = {
      type: 'string',
      defaultValue: armLiteral(perimeter.name),
      metadata: { description: armLiteral(`Name of ${where(perimeter)}.`) },
    };
    return {
      type: 'Microsoft.Resources/deployments',
      apiVersion: DEPLOYMENTS_API_VERSION,
      name: uniqueName(`nsp-rules-${perimeter.fileStem}`, deploymentNames, '-', DEPLOYMENT_NAME_MAX),
      subscriptionId: armLiteral(perimeter.subscriptionId),
      resourceGroup: armLiteral(perimeter.resourceGroup),
      properties: {
        // Incremental: a nested deployment in Complete mode would delete everything else in the group.
        mode: 'Incremental',
        expressionEvaluationOptions: { scope: 'inner' },
        parameters: { nspName: { value: `[parameters(${armExpressionString(parameter)})]` } },
        template: perimeterTemplate(perimeter, apiVersion),
      },
    };
  });
  return toJson({
    $schema: TEMPLATE_SCHEMA,
    contentVersion: '1.0.0.0',
    metadata: {
      description: perimeters.length === 0
        ? 'nsp-advisor found no access rules to add.'
        : 'NSP access rules recommended by nsp-advisor: one nested deployment per perimeter, each into the ' +
          "perimeter's own resource group. Each rule is a PUT: a rule of the same name already in place is replaced.",
    },
    parameters,
    resources,
  });
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
