// Recommend stage, emit: the registry of output formats. `--format` choices and help text come
// from this table and nowhere else; `emitFiles` says which files `--out-dir` writes.

import type { RuleSet } from '../../model/rule-set.js';
import { arm, perimetersWithRules } from './arm.js';
import { azcli } from './azcli.js';
import { bicep } from './bicep.js';
import { json } from './json.js';
import { terraform } from './terraform.js';

/** Options every emitter takes; each ignores what does not apply to its format. */
export interface EmitOptions {
  /**
   * API version of the Microsoft.Network resources in ARM and Bicep output (default 2024-07-01,
   * the first GA version with access rules). Terraform and the CLI script pick their own.
   */
  apiVersion?: string;
}

/** A pure function: the same RuleSet and options always give the same bytes. */
export type Emitter = (ruleSet: RuleSet, options?: EmitOptions) => string;

/** A registry entry: the emitter and what the CLI needs to offer and write it. */
export interface EmitterInfo {
  emit: Emitter;
  /** Help text of the `--format` choice. */
  describe: string;
  /**
   * True when one output deploys to one resource group, so `emitFiles` writes a file per
   * perimeter; false when one file serves the whole estate.
   */
  perPerimeter: boolean;
  /** End of the file name: `nsp-prod.arm.json` (per perimeter), `nsp-rules.tf` (whole estate). */
  fileSuffix: string;
}

const table = {
  json: { emit: json, describe: 'the rules review document (default)', perPerimeter: false, fileSuffix: '.json' },
  arm: {
    emit: arm, perPerimeter: true, fileSuffix: '.arm.json',
    describe: 'ARM template (several perimeters: one nested deployment each)',
  },
  bicep: {
    emit: bicep, perPerimeter: true, fileSuffix: '.bicep',
    describe: 'Bicep (one file deploys to one resource group: several perimeters, one file each)',
  },
  terraform: {
    emit: terraform, perPerimeter: false, fileSuffix: '.tf',
    describe: 'Terraform, azurerm_network_security_perimeter_access_rule resources',
  },
  azcli: {
    emit: azcli, perPerimeter: false, fileSuffix: '.azcli.sh',
    describe: 'bash script of "az network perimeter profile access-rule create" commands',
  },
} satisfies Record<string, EmitterInfo>;

/** A `--format` choice. */
export type Format = keyof typeof table;
/** Every output format, by `--format` name. */
export const emitters: Readonly<Record<Format, EmitterInfo>> = table;
/** `--format` choices, in help order. */
export const formatNames = Object.keys(emitters) as Format[];

/** A file to write: a bare file name (no directory) and its content. */
export interface EmittedFile {
  name: string;
  content: string;
}

/** Base name of the one file of a whole-estate format: `nsp-rules.tf`. */
export const WHOLE_ESTATE_STEM = 'nsp-rules';

/**
 * The files `--out-dir` writes for a format. Per-perimeter formats: one file per perimeter that
 * has rules to add, named from the perimeter (`nsp-prod.arm.json`; `-2` and so on when two
 * perimeters share a name), each the format's one-perimeter output; none when no perimeter has
 * rules. Other formats: one file, `nsp-rules<suffix>`, equal to the stdout output.
 */
export function emitFiles(ruleSet: RuleSet, format: Format, options: EmitOptions = {}): EmittedFile[] {
  const { emit, perPerimeter, fileSuffix } = emitters[format];
  if (!perPerimeter) return [{ name: `${WHOLE_ESTATE_STEM}${fileSuffix}`, content: emit(ruleSet, options) }];
  return perimetersWithRules(ruleSet).map((perimeter) => ({
    name: `${perimeter.fileStem}${fileSuffix}`,
    content: emit({ ...ruleSet, profiles: perimeter.profiles }, options),
  }));
}
