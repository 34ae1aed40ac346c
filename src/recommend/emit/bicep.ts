// Recommend stage, emit: a Bicep file (resource-group scope) that declares each perimeter and
// profile as `existing` and adds every recommended rule as their child (nsp-reference.md §7.2).
// Several perimeters share one file only when they share a resource group (see `bicep`).

import type { RuleSet } from '../../model/rule-set.js';
import { apiVersionOf, commentText, isUnsafeChar, perimetersWithRules, ruleProperties, uniqueName, type PerimeterRules } from './arm.js';
import type { EmitOptions } from './index.js';

// Bicep refuses longer identifiers.
const IDENTIFIER_MAX = 255;

/**
 * A Bicep single-quoted string: `\\`, `\'`, `\${` (an interpolation otherwise), `\n`, `\r`, `\t`,
 * and `\u{…}` for every other control, separator or bidi character.
 */
export function bicepString(text: string): string {
  let out = "'";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === "'") out += "\\'";
    else if (c === '$' && text[i + 1] === '{') out += '\\$';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (isUnsafeChar(c)) out += `\\u{${c.charCodeAt(0).toString(16).toUpperCase()}}`;
    else out += c;
  }
  return `${out}'`;
}

/** A valid Bicep identifier from `prefix_part_part…`, unique (case-insensitively) in `taken`. */
function identifier(parts: string[], taken: Set<string>): string {
  const base = parts.join('_').replace(/[^A-Za-z0-9_]/g, '_').replace(/_{2,}/g, '_').replace(/_$/, '');
  return uniqueName(base, taken, '_', IDENTIFIER_MAX);
}

/** Bicep literal for a rule's properties (strings, arrays and objects with identifier keys). */
function bicepValue(value: unknown, indent: string): string {
  if (typeof value === 'string') return bicepString(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => `${inner}${bicepValue(v, inner)}`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return `{\n${entries.map(([k, v]) => `${inner}${k}: ${bicepValue(v, inner)}`).join('\n')}\n${indent}}`;
}

function where(perimeter: PerimeterRules): string {
  return `resource group ${perimeter.resourceGroup}, subscription ${perimeter.subscriptionId}`;
}

function header(perimeters: PerimeterRules[]): string[] {
  const replaceNote = '// Each rule is a PUT: a rule of the same name already in place is replaced with this content.';
  if (perimeters.length === 0) return ['// nsp-advisor found no access rules to add.'];
  if (perimeters.length === 1) {
    const p = perimeters[0]!;
    return [
      commentText(`// NSP access rules recommended by nsp-advisor for perimeter ${p.name} (${where(p)}).`),
      commentText(`// Deploy to that resource group: az deployment group create --subscription ${p.subscriptionId} --resource-group ${p.resourceGroup} --template-file <this file>`),
      replaceNote,
    ];
  }
  const scopes = new Set(perimeters.map((p) => `${p.subscriptionId}/${p.resourceGroup}`.toLowerCase()));
  return [
    `// NSP access rules recommended by nsp-advisor for ${perimeters.length} perimeters.`,
    scopes.size === 1
      ? commentText(`// All are in ${where(perimeters[0]!)}: deploy this file to that resource group.`)
      : `// A Bicep file deploys to one resource group and these perimeters are in ${scopes.size}: deploy one file per\n` +
        '// perimeter instead (nsp-advisor --out-dir writes them). Each section below names its resource group.',
    replaceNote,
  ];
}

/**
 * Bicep creating every recommended rule: a `param` per perimeter name (default: the logged name),
 * `existing` perimeters and profiles, one accessRules child per rule with `properties` exactly
 * NspAccessRuleProperties.
 *
 * One perimeter: parameter `nspName`, deployable to the perimeter's resource group; this is what
 * `emitFiles` writes per perimeter. Several perimeters: parameters `nspName_<perimeter>` in one
 * file, which deploys only when they all share a resource group (Bicep cannot deploy resources to
 * another scope without modules); the header says so when they do not.
 */
export function bicep(ruleSet: RuleSet, options: EmitOptions = {}): string {
  const apiVersion = apiVersionOf(options);
  const perimeters = perimetersWithRules(ruleSet);
  const taken = new Set<string>();
  const blocks: string[] = [header(perimeters).join('\n')];
  for (const perimeter of perimeters) {
    const param = identifier(perimeters.length === 1 ? ['nspName'] : ['nspName', perimeter.name], taken);
    const nsp = identifier(['perimeter', perimeter.name], taken);
    const lines = [
      ...(perimeters.length === 1 ? [] : [commentText(`// Perimeter ${perimeter.name}: ${where(perimeter)}`)]),
      `@description(${bicepString(`Name of the network security perimeter (${where(perimeter)}).`)})`,
      `param ${param} string = ${bicepString(perimeter.name)}`,
      '',
      `resource ${nsp} 'Microsoft.Network/networkSecurityPerimeters@${apiVersion}' existing = {`,
      `  name: ${param}`,
      '}',
    ];
    blocks.push(lines.join('\n'));
    for (const profile of perimeter.profiles) {
      const profileId = identifier(['profile', perimeter.name, profile.profile], taken);
      blocks.push([
        `resource ${profileId} 'Microsoft.Network/networkSecurityPerimeters/profiles@${apiVersion}' existing = {`,
        `  parent: ${nsp}`,
        `  name: ${bicepString(profile.profile)}`,
        '}',
      ].join('\n'));
      for (const rule of profile.rules) {
        blocks.push([
          ...(rule.extendsExisting ? ['// Extends the rule in place: its full content, the new elements included.'] : []),
          `resource ${identifier(['rule', perimeter.name, profile.profile, rule.name], taken)} 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@${apiVersion}' = {`,
          `  parent: ${profileId}`,
          `  name: ${bicepString(rule.name)}`,
          `  properties: ${bicepValue(ruleProperties(rule), '  ')}`,
          '}',
        ].join('\n'));
      }
    }
  }
  return `${blocks.join('\n\n')}\n`;
}
