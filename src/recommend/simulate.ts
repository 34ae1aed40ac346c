// Recommend stage: "what would break". Replays a FlowSummary as if every association were
// Enforced with a given rule set: each flow that works today through the public path (blockers,
// and flows an NSP rule admits today) is judged against the rules; the rest are reported.

import { lookupCategory, type Direction } from '../model/category.js';
import type { ExistingRule } from '../model/existing-rules.js';
import type { Flow, FlowSummary } from '../model/flow-summary.js';
import { classifyAddress, parseLoggedIp } from '../model/ip.js';
import type { PeerKind } from '../model/record.js';
import { ProfileCoverage, perimeterMembers, subscriptionOf } from './coverage.js';
import { isoTime } from './evidence.js';
import { byCodeUnit } from '../model/text.js';

/** Why a flow would be denied under Enforced. */
export type DenialReason =
  | 'no-rule'                // no rule admits the source or destination
  | 'same-perimeter-caller'  // a member calling without managed identity: not intra-perimeter traffic
  | 'empty-source-ip'        // service endpoint traffic: no IP rule can admit it
  | 'private-address'
  | 'reserved-address'
  | 'empty-destination';

export type FlowVerdict = { allowed: true; rule: string } | { allowed: false; reason: DenialReason };

export interface SimulatedDenial {
  direction: Direction;
  category: string;
  peerKind: PeerKind;
  peer: string;
  reason: DenialReason;
  hits: number;
  lastSeen: string;
  resources: string[];
}

export interface SimulatedProfile {
  perimeterId: string;
  profile: string;
  /** Flows that work today through the public path and were judged. */
  flowsReplayed: number;
  allowedFlows: number;
  /** Flows an NSP rule admits today whose rule list was not given: assumed to stay admitted. */
  keptFlows: number;
  denied: SimulatedDenial[];
  deniedHits: number;
}

export interface SimulationReport {
  profiles: SimulatedProfile[];
  deniedFlows: number;
  deniedHits: number;
}

export interface SimulateOptions {
  /** Rules in force after enforcement (rules to add plus rules in place). */
  rules: readonly ExistingRule[];
  /**
   * Profiles (`perimeterId\u0001profile`) whose complete rule list is among `rules`. For other
   * profiles the rules that admit traffic today are not known, so that traffic is kept.
   */
  listedProfiles?: ReadonlySet<string>;
}


/** Judges one flow against a profile's rules under Enforced. */
export function judgeFlow(flow: Flow, coverage: ProfileCoverage, perimeterMembers: ReadonlySet<string>): FlowVerdict {
  const direction = lookupCategory(flow.category)!.direction;
  const denied = (reason: DenialReason): FlowVerdict => ({ allowed: false, reason });
  if (direction === 'Outbound') {
    if (flow.peerKind !== 'fqdn') return denied('empty-destination');
    const rule = coverage.ruleForFqdn(flow.peer);
    return rule === undefined ? denied('no-rule') : { allowed: true, rule };
  }
  if (flow.peerKind === 'resource') {
    // An Azure caller is admitted by an IP rule when every address it came from is covered.
    const ipRules = [...flow.sourceIps].map((ip) => { const a = parseLoggedIp(ip); return a ? coverage.ruleForAddress(a) : undefined; });
    if (ipRules.length > 0 && ipRules.every((r) => r !== undefined)) return { allowed: true, rule: ipRules[0]! };
    // A member of the same perimeter reached the resource without a managed identity (else the
    // perimeter itself would have let it in): a subscription rule, which needs one, does not help.
    if (perimeterMembers.has(flow.peer)) return denied('same-perimeter-caller');
    const bySubscription = coverage.ruleForSubscription(subscriptionOf(flow.peer));
    if (bySubscription !== undefined) return { allowed: true, rule: bySubscription };
    return denied(flow.sourceIps.size === 0 && subscriptionOf(flow.peer) === '' ? 'empty-source-ip' : 'no-rule');
  }
  if (flow.peerKind !== 'ip') return denied('empty-source-ip');
  const address = parseLoggedIp(flow.peer);
  if (!address) return denied('reserved-address');
  const rule = coverage.ruleForAddress(address);
  if (rule !== undefined) return { allowed: true, rule };
  const cls = classifyAddress(address);
  return denied(cls === 'private' ? 'private-address' : cls === 'reserved' ? 'reserved-address' : 'no-rule');
}

/** Replays every profile of the summary under Enforced with the given rules. */
export function simulate(summary: FlowSummary, options: SimulateOptions): SimulationReport {
  const members = perimeterMembers(summary);
  const byProfile = new Map<string, Flow[]>();
  for (const flow of summary.flows.values()) {
    const key = `${flow.perimeterId}\u0001${flow.profile}`;
    byProfile.set(key, [...(byProfile.get(key) ?? []), flow]);
  }
  const profiles: SimulatedProfile[] = [];
  for (const [key, flows] of [...byProfile].sort((a, b) => byCodeUnit(a[0], b[0]))) {
    const { perimeterId, profile } = flows[0]!;
    const coverage = new ProfileCoverage(options.rules.filter((r) => r.perimeterId === perimeterId && r.profile === profile));
    const listed = options.listedProfiles?.has(key) ?? false;
    const result: SimulatedProfile = { perimeterId, profile, flowsReplayed: 0, allowedFlows: 0, keptFlows: 0, denied: [], deniedHits: 0 };
    for (const flow of flows.sort((a, b) => byCodeUnit(`${a.category}\u0001${a.peer}`, `${b.category}\u0001${b.peer}`))) {
      const info = lookupCategory(flow.category)!;
      if (info.decision !== 'blocker' && info.decision !== 'covered') continue;
      result.flowsReplayed++;
      const verdict = judgeFlow(flow, coverage, members.get(perimeterId) ?? new Set());
      if (verdict.allowed) { result.allowedFlows++; continue; }
      if (info.decision === 'covered' && !listed) { result.keptFlows++; continue; }
      result.denied.push({
        direction: info.direction, category: flow.category, peerKind: flow.peerKind, peer: flow.peer, reason: verdict.reason,
        hits: flow.hits, lastSeen: isoTime(flow.lastSeen), resources: [...flow.resources].sort(byCodeUnit),
      });
      result.deniedHits += flow.hits;
    }
    profiles.push(result);
  }
  return {
    profiles,
    deniedFlows: profiles.reduce((n, p) => n + p.denied.length, 0),
    deniedHits: profiles.reduce((n, p) => n + p.deniedHits, 0),
  };
}
