// Recommend stage, emit: the registry of output formats. `--format` choices and help text come
// from this table and nowhere else.

import type { RuleSet } from '../../model/rule-set.js';
import { json } from './json.js';

export interface EmitOptions {
  /** ARM API version for deployable formats. */
  apiVersion?: string;
}

export type Emitter = (ruleSet: RuleSet, options?: EmitOptions) => string;

export const emitters = {
  json: { emit: json, describe: 'the rules review document (default)' },
} satisfies Record<string, { emit: Emitter; describe: string }>;

export type Format = keyof typeof emitters;
export const formatNames = Object.keys(emitters) as Format[];
