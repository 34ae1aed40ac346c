// Model: the normalized NSP access-log record every ingest source yields and the analyzer folds.
// Field meanings follow the NSPAccessLogs columns (nsp-reference.md §1 and §3.4).

import type { DecisionClass, Direction } from './category.js';

/** Who the flow is with, as far as access rules are concerned. */
export type PeerKind =
  | 'ip'        // inbound caller by public or private IP (value: canonical address)
  | 'resource'  // inbound caller that is an Azure resource (value: lower-case ARM id of SourceResourceId)
  | 'fqdn'      // outbound destination (value: lower-case FQDN, no trailing dot)
  | 'none';     // nothing usable: empty source IP (service endpoint traffic) or empty destination

export interface NspRecord {
  /** Start of the aggregation window (TimeGenerated / raw `time`), epoch milliseconds UTC. */
  time: number;
  /** End of the aggregation window (TimeGeneratedEndTime), epoch ms; equals `time` when absent. */
  endTime: number;
  /** Events aggregated into this record (Count; missing = 1). */
  count: number;
  /** Canonical ARM id of the perimeter (from resourceId / _ResourceId). */
  perimeterId: string;
  /** Profile name, lower case. */
  profile: string;
  /** Canonical category name. */
  category: string;
  direction: Direction;
  decision: DecisionClass;
  /** Canonical ARM id of the PaaS resource that logged the access (ServiceResourceId); '' if absent. */
  resourceId: string;
  peerKind: PeerKind;
  /** Peer value (see PeerKind); '' for kind 'none'. */
  peer: string;
  /** Caller IP kept alongside a 'resource' peer, canonical; '' if absent. */
  sourceIp: string;
  /** MatchedRule.accessRule; '' if absent. */
  matchedRule: string;
  /** OperationName; '' if absent. */
  operation: string;
}
