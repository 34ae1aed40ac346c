// Recommend stage, emit: Terraform (azurerm) for the recommended rules, one file for the whole
// estate: a profile-id variable per profile and one azurerm_network_security_perimeter_access_rule
// per rule (nsp-reference.md §7.3), laid out the way `terraform fmt` leaves it.

import type { RecommendedRule, RuleSet } from '../../model/rule-set.js';
import { isUnsafeChar, perimetersWithRules, unicodeEscape, uniqueName } from './arm.js';
import type { EmitOptions } from './index.js';

const RESOURCE_TYPE = 'azurerm_network_security_perimeter_access_rule';

/**
 * An HCL quoted string: `\\`, `\"`, `\n`, `\r`, `\t`, `\uXXXX` for other control, separator or
 * bidi characters, and the template escapes `$${` and `%%{` so nothing is interpolated.
 */
export function hclString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '"') out += '\\"';
    else if ((c === '$' || c === '%') && text[i + 1] === '{') out += c + c;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (isUnsafeChar(c)) out += unicodeEscape(c);
    else out += c;
  }
  return `${out}"`;
}

/** A valid HCL identifier (letters, digits, `_`; starts with a letter), unique in `taken`. */
function identifier(parts: string[], taken: Set<string>): string {
  let base = parts.join('_').toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/_{2,}/g, '_').replace(/^_|_$/g, '');
  if (!/^[a-z]/.test(base)) base = `n_${base}`;
  return uniqueName(base, taken, '_');
}

/**
 * Attribute lines of a block. Consecutive one-line values get their `=` aligned, as `terraform fmt`
 * does; a multi-line value ends the group.
 */
function attributes(entries: [string, string][]): string[] {
  const lines: string[] = [];
  let group: [string, string][] = [];
  const flush = (): void => {
    const width = Math.max(...group.map(([k]) => k.length));
    for (const [k, v] of group) lines.push(`  ${k.padEnd(width)} = ${v}`);
    group = [];
  };
  for (const [key, value] of entries) {
    if (value.includes('\n')) {
      if (group.length) flush();
      lines.push(`  ${key} = ${value}`);
    } else group.push([key, value]);
  }
  if (group.length) flush();
  return lines;
}

function hclList(values: string[]): string {
  if (values.length === 1) return `[${hclString(values[0]!)}]`;
  return `[\n${values.map((v) => `    ${hclString(v)},`).join('\n')}\n  ]`;
}

/** The one element attribute of a rule, as the azurerm resource names it. */
function elementAttribute(rule: RecommendedRule): [string, string] {
  if ('addressPrefixes' in rule) return ['address_prefixes', hclList(rule.addressPrefixes)];
  if ('subscriptions' in rule) return ['subscription_ids', hclList(rule.subscriptions.map((s) => s.id))];
  return ['fqdns', hclList(rule.fullyQualifiedDomainNames)];
}

/**
 * Terraform for the whole estate (the provider reaches every subscription through the full profile
 * ids, so it is never split per perimeter). Each profile gets a variable holding its resource id,
 * defaulting to the id built from the logged perimeter; point it at your own
 * `azurerm_network_security_perimeter_profile` instead when Terraform manages the profile.
 * `options.apiVersion` does not apply: the provider picks the API version.
 */
export function terraform(ruleSet: RuleSet, _options: EmitOptions = {}): string {
  const perimeters = perimetersWithRules(ruleSet);
  const variables = new Set<string>();
  const resources = new Set<string>();
  const blocks = [[
    perimeters.length === 0
      ? '# nsp-advisor found no access rules to add.'
      : `# NSP access rules recommended by nsp-advisor, as ${RESOURCE_TYPE} resources (azurerm).`,
    '# Each rule is a PUT: a rule of the same name already in place is replaced. Changing a rule\'s',
    '# direction or profile makes Terraform replace it.',
  ].join('\n')];
  for (const perimeter of perimeters) {
    for (const profile of perimeter.profiles) {
      const variable = identifier([perimeter.name, profile.profile, 'profile_id'], variables);
      blocks.push([
        `variable ${hclString(variable)} {`,
        ...attributes([
          ['type', 'string'],
          ['description', hclString(`Resource id of profile ${profile.profile} of perimeter ${perimeter.name} (resource group ${perimeter.resourceGroup}).`)],
          ['default', hclString(`${perimeter.id}/profiles/${profile.profile}`)],
        ]),
        '}',
      ].join('\n'));
      for (const rule of profile.rules) {
        blocks.push([
          // --extend-existing: the rule in place, written whole. Terraform must import it before applying.
          ...(rule.extendsExisting ? ['# Extends the rule in place (import it first): its full content, the new elements included.'] : []),
          `resource ${hclString(RESOURCE_TYPE)} ${hclString(identifier([perimeter.name, profile.profile, rule.name], resources))} {`,
          ...attributes([
            ['name', hclString(rule.name)],
            ['network_security_perimeter_profile_id', `var.${variable}`],
            ['direction', hclString(rule.direction)],
            elementAttribute(rule),
          ]),
          '}',
        ].join('\n'));
      }
    }
  }
  return `${blocks.join('\n\n')}\n`;
}
