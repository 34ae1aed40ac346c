// Recommend stage: compares the rules in place with what the logs need. Per profile: the rules
// to add, existing rules and elements nothing used in the window (removal candidates), elements
// another element already contains (redundant), and element counts against the limit.

import { lookupCategory } from '../model/category.js';
import { existingElementCount, type ExistingRule } from '../model/existing-rules.js';
import type { Flow, FlowSummary } from '../model/flow-summary.js';
import { parseLoggedIp, parsePrefix, prefixContains, prefixContainsPrefix, type IpPrefix } from '../model/ip.js';
import { MAX_ELEMENTS_PER_DIRECTION, ruleElements, type RecommendedRule, type RuleSet } from '../model/rule-set.js';
import { fqdnCovers, subscriptionOf } from './coverage.js';
import { byCodeUnit, shortName } from '../model/text.js';

export interface UnusedElement { rule: string; element: string }
export interface RedundantElement { rule: string; element: string; containedIn: { rule: string; element: string } }

export interface ProfileDiff {
  perimeterId: string;
  profile: string;
  add: RecommendedRule[];
  /** Existing rules none of whose elements admitted a flow in the window (and no matched-rule hits). */
  unusedRules: string[];
  /** Elements of rules that are used otherwise, that admitted nothing. */
  unusedElements: UnusedElement[];
  redundant: RedundantElement[];
  elements: {
    inbound: { existing: number; toAdd: number; unused: number; after: number; limit: number };
    outbound: { existing: number; toAdd: number; unused: number; after: number; limit: number };
  };
}

export interface DiffReport {
  window: RuleSet['window'];
  profiles: ProfileDiff[];
}


/** Does this existing element admit the flow's peer? */
function elementAdmits(kind: 'prefix' | 'subscription' | 'fqdn', element: string, flow: Flow): boolean {
  if (kind === 'fqdn') return flow.peerKind === 'fqdn' && fqdnCovers(element, flow.peer);
  if (kind === 'subscription') return flow.peerKind === 'resource' && subscriptionOf(flow.peer) === element;
  const prefix = parsePrefix(element);
  if (!prefix) return false;
  const ips = flow.peerKind === 'ip' ? [flow.peer] : flow.peerKind === 'resource' ? [...flow.sourceIps] : [];
  return ips.some((ip) => { const a = parseLoggedIp(ip); return a !== null && prefixContains(prefix, a); });
}

/**
 * Diffs rules in place against the logs and the recommendation made from them.
 * @param recommended the RuleSet recommend() made from the same summary and existing rules
 */
export function diffRules(summary: FlowSummary, existing: readonly ExistingRule[], recommended: RuleSet, maxElements = MAX_ELEMENTS_PER_DIRECTION): DiffReport {
  const keys = new Map<string, { perimeterId: string; profile: string }>();
  for (const r of existing) keys.set(`${r.perimeterId}\u0001${r.profile}`, { perimeterId: r.perimeterId, profile: r.profile });
  for (const p of recommended.profiles) keys.set(`${p.perimeterId}\u0001${p.profile}`, { perimeterId: p.perimeterId, profile: p.profile });
  const profiles: ProfileDiff[] = [];
  for (const [, { perimeterId, profile }] of [...keys].sort((a, b) => byCodeUnit(a[0], b[0]))) {
    const rules = existing.filter((r) => r.perimeterId === perimeterId && r.profile === profile).sort((a, b) => byCodeUnit(a.name, b.name));
    // Flows that worked through the public path: what an element may have admitted.
    const flows = [...summary.flows.values()].filter((f) => f.perimeterId === perimeterId && f.profile === profile
      && ['covered', 'blocker'].includes(lookupCategory(f.category)!.decision));
    const matchedHits = new Map<string, number>();
    for (const f of flows) for (const [rule, hits] of f.matchedRules) matchedHits.set(rule.toLowerCase(), (matchedHits.get(rule.toLowerCase()) ?? 0) + hits);

    const unusedRules: string[] = [];
    const unusedElements: UnusedElement[] = [];
    const counts = { Inbound: { unused: 0 }, Outbound: { unused: 0 } };
    for (const rule of rules) {
      const elements: { kind: 'prefix' | 'subscription' | 'fqdn'; value: string }[] = [
        ...rule.addressPrefixes.map((value) => ({ kind: 'prefix' as const, value })),
        ...rule.subscriptions.map((value) => ({ kind: 'subscription' as const, value })),
        ...rule.fullyQualifiedDomainNames.map((value) => ({ kind: 'fqdn' as const, value })),
      ];
      const covered = flows.filter((f) => lookupCategory(f.category)!.direction === rule.direction);
      const unused = elements.filter((e) => !covered.some((f) => elementAdmits(e.kind, e.value, f)));
      if (unused.length === elements.length && !matchedHits.has(rule.name.toLowerCase()) && rule.serviceTags.length === 0) {
        unusedRules.push(rule.name);
        counts[rule.direction].unused += existingElementCount(rule);
      } else {
        for (const e of unused) unusedElements.push({ rule: rule.name, element: e.value });
        counts[rule.direction].unused += unused.length;
      }
    }

    const redundant: RedundantElement[] = [];
    const prefixes: { rule: string; element: string; prefix: IpPrefix }[] = rules.flatMap((r) => r.addressPrefixes
      .map((element) => ({ rule: r.name, element, prefix: parsePrefix(element) }))
      .filter((x): x is { rule: string; element: string; prefix: IpPrefix } => x.prefix !== null));
    prefixes.forEach((inner, i) => {
      const outer = prefixes.find((o, j) => j !== i && prefixContainsPrefix(o.prefix, inner.prefix)
        && (o.prefix.length < inner.prefix.length || j < i)); // equal prefixes: the first one stays
      if (outer) redundant.push({ rule: inner.rule, element: inner.element, containedIn: { rule: outer.rule, element: outer.element } });
    });
    const fqdns = rules.flatMap((r) => r.fullyQualifiedDomainNames.map((element) => ({ rule: r.name, element })));
    fqdns.forEach((inner, i) => {
      const outer = fqdns.find((o, j) => j !== i && (o.element !== inner.element ? fqdnCovers(o.element, inner.element) : j < i));
      if (outer) redundant.push({ rule: inner.rule, element: inner.element, containedIn: outer });
    });
    const subs = rules.flatMap((r) => r.subscriptions.map((element) => ({ rule: r.name, element })));
    subs.forEach((inner, i) => {
      const outer = subs.find((o, j) => j < i && o.element === inner.element);
      if (outer) redundant.push({ rule: inner.rule, element: inner.element, containedIn: outer });
    });

    const add = recommended.profiles.find((p) => p.perimeterId === perimeterId && p.profile === profile)?.rules ?? [];
    const count = (direction: 'Inbound' | 'Outbound') => {
      const existingCount = rules.filter((r) => r.direction === direction).reduce((n, r) => n + existingElementCount(r), 0);
      const toAdd = add.filter((r) => r.direction === direction).reduce((n, r) => n + ruleElements(r).length, 0);
      return { existing: existingCount, toAdd, unused: counts[direction].unused, after: existingCount + toAdd, limit: maxElements };
    };
    profiles.push({ perimeterId, profile, add, unusedRules, unusedElements, redundant, elements: { inbound: count('Inbound'), outbound: count('Outbound') } });
  }
  return { window: recommended.window, profiles };
}

/** Inline code in Markdown; backticks in names from Azure or logs cannot end the span. */
const code = (text: string): string => `\`${text.replace(/`/g, "'")}\``;

/** The diff as Markdown, for a pull request or a ticket. */
export function diffToMarkdown(report: DiffReport): string {
  const out: string[] = ['# NSP access rules: diff against the rules in place', ''];
  if (report.window) out.push(`Logs from ${report.window.start} to ${report.window.end}.`, '');
  for (const p of report.profiles) {
    out.push(`## ${shortName(p.perimeterId)} / ${p.profile}`, '');
    out.push('| direction | existing | to add | unused | after | limit |', '|---|---:|---:|---:|---:|---:|');
    for (const [name, c] of [['Inbound', p.elements.inbound], ['Outbound', p.elements.outbound]] as const) {
      out.push(`| ${name} | ${c.existing} | ${c.toAdd} | ${c.unused} | ${c.after}${c.after > c.limit ? ' ⚠' : ''} | ${c.limit} |`);
    }
    out.push('');
    out.push(`### Rules to add (${p.add.length})`, '');
    if (p.add.length === 0) out.push('None.');
    for (const r of p.add) out.push(`- ${code(r.name)} ${r.direction}: ${ruleElements(r).map(code).join(', ')} (${r.evidence.hits} hits on ${r.evidence.daysSeen} days)`);
    out.push('', `### Removal candidates: unused rules (${p.unusedRules.length}) and elements (${p.unusedElements.length})`, '');
    if (p.unusedRules.length + p.unusedElements.length === 0) out.push('None.');
    for (const r of p.unusedRules) out.push(`- rule ${code(r)}: no hits in the window`);
    for (const e of p.unusedElements) out.push(`- ${code(e.element)} in rule ${code(e.rule)}: admitted nothing in the window`);
    out.push('', `### Redundant elements (${p.redundant.length})`, '');
    if (p.redundant.length === 0) out.push('None.');
    for (const r of p.redundant) out.push(`- ${code(r.element)} in rule ${code(r.rule)}: contained in ${code(r.containedIn.element)} of rule ${code(r.containedIn.rule)}`);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
