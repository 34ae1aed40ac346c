// Recommend stage, emit: the rules review document (architecture.md) as pretty JSON. Key order is
// the order the recommender builds objects in, so the same RuleSet always gives the same bytes.

import type { RuleSet } from '../../model/rule-set.js';

export function json(ruleSet: RuleSet): string {
  return `${JSON.stringify(ruleSet, null, 2)}\n`;
}
