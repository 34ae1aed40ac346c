// Recommend stage, drift: the history of scheduled drift runs. Each run leaves one Arrow flow
// snapshot in the history folder (named after the data, never the clock); the next run compares
// itself with the latest earlier one. The folder I/O lives here so the naming rule has one home.

import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NspError } from '../errors.js';
import { lookupCategory, type DecisionClass, type Direction } from '../model/category.js';
import { DAY_MS, type FlowSummary } from '../model/flow-summary.js';
import type { PeerKind } from '../model/record.js';
import { writeFileAtomic } from '../write-atomic.js';
import { byCodeUnit } from '../model/text.js';

/** Names of history snapshots: `flows-YYYY-MM-DD.arrow`, which sort in time order. */
export const HISTORY_SNAPSHOT_PATTERN = /^flows-(\d{4}-\d{2}-\d{2})\.arrow$/;

const dayText = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** Last UTC day (day number) on which the summary has hits, or null when it is empty. */
export function lastDataDay(summary: FlowSummary): number | null {
  let last = -Infinity;
  for (const flow of summary.flows.values()) for (const day of flow.dayHits.keys()) if (day > last) last = day;
  return last === -Infinity ? null : last;
}

/**
 * The history file name of a run: `flows-<last UTC day with data>.arrow`. It comes from the data
 * window, so re-running on the same logs replaces that run's snapshot instead of adding one.
 * @returns null for an empty summary (nothing to keep)
 */
export function historySnapshotName(summary: FlowSummary): string | null {
  const day = lastDataDay(summary);
  return day === null ? null : `flows-${dayText(day)}.arrow`;
}

/** History snapshot names in a folder, oldest first; a missing folder is an empty history. */
export async function listHistory(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new NspError('input-missing', `Cannot read history folder "${dir}": ${(error as Error).message}`, { cause: error });
  }
  return names.filter((n) => HISTORY_SNAPSHOT_PATTERN.test(n)).sort(byCodeUnit);
}

/** Writes the run's snapshot into the history folder (created when missing), atomically. */
export async function saveHistorySnapshot(dir: string, name: string, summary: FlowSummary): Promise<string> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new NspError('output-failed', `Cannot create history folder "${dir}": ${(error as Error).message}`, { cause: error });
  }
  const path = join(dir, name);
  const { snapshotBytes } = await import('../analyze/snapshot.js'); // apache-arrow, loaded when needed
  await writeFileAtomic(path, snapshotBytes(summary));
  return path;
}

/**
 * A source, for history: a peer (address, Azure caller or FQDN) of a profile and direction that
 * used the public path (blocker, covered or denied flows). Exempt traffic (private endpoints,
 * same perimeter, perimeter links) and flows without a peer are not sources: no rule governs them.
 */
export interface SourceInfo {
  perimeterId: string;
  profile: string;
  direction: Direction;
  peerKind: PeerKind;
  peer: string;
  /** Decision classes the source's flows had, sorted. */
  decisions: DecisionClass[];
  hits: number;
}

/** Map key of a source: fields cannot contain U+0001 after normalization. */
export function sourceKey(s: { perimeterId: string; profile: string; direction: Direction; peerKind: PeerKind; peer: string }): string {
  return `${s.perimeterId}\u0001${s.profile}\u0001${s.direction}\u0001${s.peerKind}\u0001${s.peer}`;
}

/** The sources of a summary by sourceKey. */
export function sourcesOf(summary: FlowSummary): Map<string, SourceInfo> {
  const sources = new Map<string, SourceInfo>();
  for (const flow of summary.flows.values()) {
    const info = lookupCategory(flow.category);
    if (!info || info.decision === 'exempt' || flow.peerKind === 'none') continue;
    const key = sourceKey({ ...flow, direction: info.direction });
    let s = sources.get(key);
    if (!s) {
      s = { perimeterId: flow.perimeterId, profile: flow.profile, direction: info.direction, peerKind: flow.peerKind, peer: flow.peer, decisions: [], hits: 0 };
      sources.set(key, s);
    }
    if (!s.decisions.includes(info.decision)) s.decisions = [...s.decisions, info.decision].sort(byCodeUnit) as DecisionClass[];
    s.hits += flow.hits;
  }
  return sources;
}

/** An earlier run as drift needs it: the latest earlier run whole, the older ones as source sets. */
export interface HistoryRun {
  /** Snapshot file name. */
  name: string;
  sourceKeys: ReadonlySet<string>;
}

export interface LoadedHistory {
  /** Earlier runs (names before the current one), oldest first. */
  runs: HistoryRun[];
  /** The latest earlier run's flows, or null when there is none. */
  previous: { name: string; summary: FlowSummary } | null;
}

/**
 * Loads the runs before `currentName` (a snapshot of the same name is this run's own, from an
 * earlier attempt on the same data, and is replaced rather than compared with). Only the latest
 * earlier summary is kept whole; older ones are reduced to their source keys as they load.
 */
export async function loadHistory(dir: string, currentName: string): Promise<LoadedHistory> {
  const names = (await listHistory(dir)).filter((n) => n < currentName);
  const runs: HistoryRun[] = [];
  let previous: LoadedHistory['previous'] = null;
  for (const [i, name] of names.entries()) {
    const { loadSnapshot } = await import('../analyze/snapshot.js');
    const summary = await loadSnapshot(join(dir, name));
    runs.push({ name, sourceKeys: new Set(sourcesOf(summary).keys()) });
    if (i === names.length - 1) previous = { name, summary };
  }
  return { runs, previous };
}

/** Hits of a profile now and in the previous run, in total and per decision class. */
export interface VolumeChange {
  perimeterId: string;
  profile: string;
  hitsBefore: number;
  hitsNow: number;
  /** (now − before) / before, rounded to 4 decimals; null when there were no hits before. */
  change: number | null;
  byDecision: Record<DecisionClass, { before: number; now: number }>;
}

/** Sources first seen in a run (absent from every earlier run). */
export interface NewSourceRate {
  run: string;
  /** Last UTC day with data in that run (from its name). */
  lastDay: string;
  sources: number;
  newSources: number;
}

export interface DriftHistory {
  /** This run's snapshot name. */
  current: string;
  /** The run compared with, or null on the first run. */
  previous: string | null;
  /** Sources in this run that the previous run did not have. */
  newSources: SourceInfo[];
  /** Sources of the previous run that this run does not have (hits and decisions from then). */
  vanishedSources: SourceInfo[];
  volume: VolumeChange[];
  /** Every run in the history up to this one, oldest first. */
  newSourceRate: NewSourceRate[];
}

const emptyByDecision = (): VolumeChange['byDecision'] => ({
  blocker: { before: 0, now: 0 }, covered: { before: 0, now: 0 }, denied: { before: 0, now: 0 }, exempt: { before: 0, now: 0 },
});

function profileVolumes(summary: FlowSummary, into: Map<string, VolumeChange>, side: 'before' | 'now'): void {
  for (const flow of summary.flows.values()) {
    const info = lookupCategory(flow.category);
    if (!info) continue;
    const key = `${flow.perimeterId}\u0001${flow.profile}`;
    let v = into.get(key);
    if (!v) {
      v = { perimeterId: flow.perimeterId, profile: flow.profile, hitsBefore: 0, hitsNow: 0, change: null, byDecision: emptyByDecision() };
      into.set(key, v);
    }
    if (side === 'now') v.hitsNow += flow.hits; else v.hitsBefore += flow.hits;
    v.byDecision[info.decision][side] += flow.hits;
  }
}

/**
 * Compares this run with the history: new and vanished sources and volume per profile against
 * the previous run, and the new-source rate over every run (derived from the snapshots alone).
 */
export function compareWithHistory(currentName: string, current: FlowSummary, history: LoadedHistory): DriftHistory {
  const now = sourcesOf(current);
  const sortByKey = (m: Map<string, SourceInfo>, keep: (key: string) => boolean): SourceInfo[] =>
    [...m.entries()].filter(([k]) => keep(k)).sort((a, b) => byCodeUnit(a[0], b[0])).map(([, s]) => s);

  let newSources: SourceInfo[] = [];
  let vanishedSources: SourceInfo[] = [];
  const volumes = new Map<string, VolumeChange>();
  profileVolumes(current, volumes, 'now');
  if (history.previous) {
    const before = sourcesOf(history.previous.summary);
    newSources = sortByKey(now, (k) => !before.has(k));
    vanishedSources = sortByKey(before, (k) => !now.has(k));
    profileVolumes(history.previous.summary, volumes, 'before');
  }
  const volume = [...volumes.entries()].sort((a, b) => byCodeUnit(a[0], b[0])).map(([, v]) => ({
    ...v,
    change: v.hitsBefore === 0 ? null : Math.round(((v.hitsNow - v.hitsBefore) / v.hitsBefore) * 10_000) / 10_000,
  }));

  const seen = new Set<string>();
  const newSourceRate: NewSourceRate[] = [];
  for (const run of [...history.runs, { name: currentName, sourceKeys: new Set(now.keys()) }]) {
    let fresh = 0;
    for (const key of run.sourceKeys) if (!seen.has(key)) { fresh++; seen.add(key); }
    newSourceRate.push({ run: run.name, lastDay: HISTORY_SNAPSHOT_PATTERN.exec(run.name)?.[1] ?? '', sources: run.sourceKeys.size, newSources: fresh });
  }
  return { current: currentName, previous: history.previous?.name ?? null, newSources, vanishedSources, volume, newSourceRate };
}
