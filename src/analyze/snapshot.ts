// Analyze stage: saves a FlowSummary as an Arrow IPC file (one row per flow, sorted by key) and
// loads it back, so that runs can be combined later and other tools (pandas, DuckDB, Polars) can
// read the flows. Schema metadata carries the snapshot format version.

import { readFile } from 'node:fs/promises';
import {
  Field, Float64, Int32, List, RecordBatch, Schema, Table, TimestampMillisecond, Utf8,
  tableFromIPC, tableToIPC, vectorFromArray,
} from 'apache-arrow';
import { NspError } from '../errors.js';
import { flowKeyString, type FlowSummary } from '../model/flow-summary.js';
import type { PeerKind } from '../model/record.js';
import { emptySummary, sortedFlows } from './aggregate.js';

const FORMAT_KEY = 'nsp-advisor.snapshot';
const FORMAT_VERSION = '1';

const listOf = (type: Utf8 | Int32 | Float64): List => new List(new Field('item', type, false));
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The summary as Arrow IPC file bytes; the same summary always gives the same bytes. */
export function snapshotBytes(summary: FlowSummary): Uint8Array {
  const flows = sortedFlows(summary);
  const col = <T>(pick: (f: (typeof flows)[number]) => T): T[] => flows.map(pick);
  const sortedEntries = <V>(m: Map<string, V>): [string, V][] => [...m.entries()].sort((a, b) => byCodeUnit(a[0], b[0]));
  const days = flows.map((f) => [...f.dayHits.entries()].sort((a, b) => a[0] - b[0]));
  const rules = flows.map((f) => sortedEntries(f.matchedRules));
  const columns = {
    perimeterId: vectorFromArray(col((f) => f.perimeterId), new Utf8()),
    profile: vectorFromArray(col((f) => f.profile), new Utf8()),
    category: vectorFromArray(col((f) => f.category), new Utf8()),
    peerKind: vectorFromArray(col((f) => f.peerKind), new Utf8()),
    peer: vectorFromArray(col((f) => f.peer), new Utf8()),
    hits: vectorFromArray(col((f) => f.hits), new Float64()),
    firstSeen: vectorFromArray(col((f) => f.firstSeen), new TimestampMillisecond()),
    lastSeen: vectorFromArray(col((f) => f.lastSeen), new TimestampMillisecond()),
    daysSeen: vectorFromArray(col((f) => f.dayHits.size), new Int32()),
    days: vectorFromArray(days.map((d) => d.map(([day]) => day)), listOf(new Int32())),
    dayHits: vectorFromArray(days.map((d) => d.map(([, hits]) => hits)), listOf(new Float64())),
    resources: vectorFromArray(col((f) => [...f.resources].sort(byCodeUnit)), listOf(new Utf8())),
    matchedRules: vectorFromArray(rules.map((r) => r.map(([name]) => name)), listOf(new Utf8())),
    matchedRuleHits: vectorFromArray(rules.map((r) => r.map(([, hits]) => hits)), listOf(new Float64())),
    sourceIps: vectorFromArray(col((f) => [...f.sourceIps].sort(byCodeUnit)), listOf(new Utf8())),
    operations: vectorFromArray(col((f) => [...f.operations].sort(byCodeUnit)), listOf(new Utf8())),
  };
  const plain = new Table(columns);
  const schema = new Schema(plain.schema.fields, new Map([[FORMAT_KEY, FORMAT_VERSION]]));
  const table = new Table(schema, plain.batches.map((b) => new RecordBatch(schema, b.data)));
  return tableToIPC(table, 'file');
}

const PEER_KINDS = new Set<PeerKind>(['ip', 'resource', 'fqdn', 'none']);

/** Reads a snapshot written by snapshotBytes(). @throws NspError input-invalid when it is not one */
export function summaryFromSnapshot(bytes: Uint8Array, path: string): FlowSummary {
  let table;
  try {
    table = tableFromIPC(bytes);
  } catch (error) {
    throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": ${(error as Error).message}`, { cause: error });
  }
  if (table.schema.metadata.get(FORMAT_KEY) !== FORMAT_VERSION) {
    throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": not an nsp-advisor snapshot of format ${FORMAT_VERSION}`, {
      hint: 'Write snapshots with "nsp-advisor analyze … --out flows.arrow"',
    });
  }
  const summary = emptySummary();
  const get = (name: string) => {
    const child = table.getChild(name);
    if (!child) throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": column "${name}" is missing`);
    return child;
  };
  const c = {
    perimeterId: get('perimeterId'), profile: get('profile'), category: get('category'), peerKind: get('peerKind'),
    peer: get('peer'), hits: get('hits'), firstSeen: get('firstSeen'), lastSeen: get('lastSeen'), days: get('days'),
    dayHits: get('dayHits'), resources: get('resources'), matchedRules: get('matchedRules'),
    matchedRuleHits: get('matchedRuleHits'), sourceIps: get('sourceIps'), operations: get('operations'),
  };
  const list = (v: { toArray(): ArrayLike<unknown> } | null): unknown[] => (v ? Array.from(v.toArray()) : []);
  for (let i = 0; i < table.numRows; i++) {
    const peerKind = c.peerKind.get(i) as PeerKind;
    if (!PEER_KINDS.has(peerKind)) throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": unknown peer kind "${String(peerKind)}" in row ${i}`);
    const days = list(c.days.get(i)) as number[];
    const dayHits = list(c.dayHits.get(i)) as number[];
    const ruleNames = list(c.matchedRules.get(i)) as string[];
    const ruleHits = list(c.matchedRuleHits.get(i)) as number[];
    const flow = {
      perimeterId: c.perimeterId.get(i) as string, profile: c.profile.get(i) as string, category: c.category.get(i) as string,
      peerKind, peer: c.peer.get(i) as string,
      hits: c.hits.get(i) as number, firstSeen: Number(c.firstSeen.get(i)), lastSeen: Number(c.lastSeen.get(i)),
      dayHits: new Map(days.map((d, j) => [d, dayHits[j] ?? 0] as [number, number])),
      resources: new Set(list(c.resources.get(i)) as string[]),
      matchedRules: new Map(ruleNames.map((r, j) => [r, ruleHits[j] ?? 0] as [string, number])),
      sourceIps: new Set(list(c.sourceIps.get(i)) as string[]),
      operations: new Set(list(c.operations.get(i)) as string[]),
    };
    summary.flows.set(flowKeyString(flow), flow);
  }
  return summary;
}

/** Loads a snapshot file. */
export async function loadSnapshot(path: string): Promise<FlowSummary> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new NspError('input-missing', `Cannot read "${path}": ${(error as Error).message}`, { cause: error });
  }
  return summaryFromSnapshot(bytes, path);
}

/** Saves a snapshot file atomically. */
export async function saveSnapshot(path: string, summary: FlowSummary, write: (path: string, data: Uint8Array) => Promise<void>): Promise<void> {
  await write(path, snapshotBytes(summary));
}
