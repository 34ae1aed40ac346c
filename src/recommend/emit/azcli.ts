// Recommend stage, emit: a bash script of Azure CLI commands (`nsp` extension) creating every
// recommended rule, one `az network perimeter profile access-rule create` per rule (§7.1).
// One script for the whole estate: each command names its own subscription and resource group.

import { NspError } from '../../errors.js';
import type { RecommendedRule, RuleSet } from '../../model/rule-set.js';
import { commentText, perimetersWithRules } from './arm.js';
import type { EmitOptions } from './index.js';

/**
 * A bash word that is exactly `text`: single quotes, each `'` written as `'\''`.
 * @throws NspError 'input-invalid' for a NUL character, which no command-line argument can hold
 */
export function shellQuote(text: string): string {
  if (text.includes('\0')) throw new NspError('input-invalid', `Cannot pass a NUL character to the Azure CLI: ${JSON.stringify(text)}`);
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * A string argument of an aaz command as the CLI will read it. The CLI takes a leading `'` as the
 * start of its own quoted syntax, `null` and `??` as keywords and a leading `@` as a file to read;
 * such values go in its single-quoted form, where `'/` stands for `'`. Others pass unchanged.
 */
export function aazString(text: string): string {
  if (/^['@]/.test(text) || text === 'null' || text === '??') return `'${text.replace(/'/g, "'/")}'`;
  return text;
}

/**
 * A list argument as JSON. The CLI parses its shorthand syntax first; any JSON string element
 * starts with `"`, which shorthand refuses, so the CLI falls back to reading the value as JSON.
 */
function aazList(values: unknown[]): string {
  return JSON.stringify(values);
}

// A rule in place extended with new elements (--extend-existing) is written whole: PUT replaces it.
const EXTENDS_NOTE = '# Extends the rule in place: its full content, the new elements included.';

/** The element flag of a rule and its value (§7.1). */
function elementFlag(rule: RecommendedRule): [string, string] {
  if ('addressPrefixes' in rule) return ['--address-prefixes', aazList(rule.addressPrefixes)];
  if ('subscriptions' in rule) return ['--subscriptions', aazList(rule.subscriptions.map((s) => ({ id: s.id })))];
  return ['--fqdn', aazList(rule.fullyQualifiedDomainNames)];
}

/**
 * The whole estate as one bash script: `set -euo pipefail`, the `nsp` extension installed or
 * upgraded, then one `create` per rule with every flag explicit (`--direction` too: its default is
 * undocumented) and every value single-quoted. Safe to re-run: `create` is a PUT, and the same
 * content gives the same rule. `options.apiVersion` does not apply: the extension picks it.
 */
export function azcli(ruleSet: RuleSet, _options: EmitOptions = {}): string {
  const perimeters = perimetersWithRules(ruleSet);
  const lines = [
    '#!/usr/bin/env bash',
    '# NSP access rules recommended by nsp-advisor, as Azure CLI commands (extension nsp).',
    '# Safe to re-run: "access-rule create" is a PUT, so the same content gives the same rule. It replaces',
    '# the whole rule, so a rule of the same name changed since is overwritten with this content.',
    'set -euo pipefail',
    '',
    'az extension add --name nsp --upgrade --only-show-errors',
  ];
  if (perimeters.length === 0) lines.push('', '# nsp-advisor found no access rules to add.');
  for (const perimeter of perimeters) {
    for (const profile of perimeter.profiles) {
      lines.push('', commentText(`# Perimeter ${perimeter.name} (resource group ${perimeter.resourceGroup}, ` +
        `subscription ${perimeter.subscriptionId}), profile ${profile.profile}`));
      for (const rule of profile.rules) {
        const flags: [string, string][] = [
          ['--subscription', perimeter.subscriptionId],
          ['--resource-group', aazString(perimeter.resourceGroup)],
          ['--perimeter-name', aazString(perimeter.name)],
          ['--profile-name', aazString(profile.profile)],
          ['--name', aazString(rule.name)],
          ['--direction', rule.direction],
          elementFlag(rule),
        ];
        if (rule.extendsExisting) lines.push(EXTENDS_NOTE);
        lines.push(['az network perimeter profile access-rule create', ...flags.map(([f, v]) => `  ${f} ${shellQuote(v)}`)].join(' \\\n'));
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
