// Report stage (after recommend): charts as server-rendered inline SVG strings, so the HTML report
// shows them before (and without) any script. Every data mark carries class "datum", a <title>
// (native tooltip) and a data-tip (the page script's readout); all text is escaped here.

import { escapeHtml } from './escape.js';
import { formatCount } from '../model/text.js';

/** One series of a bar chart (a stack layer); `className` picks its colour from the page CSS. */
export interface ChartSeries {
  name: string;
  className: string;
  values: number[];
}

export interface BarChartSpec {
  /** Machine name, becomes data-chart (tests and scripts find charts by it). */
  id: string;
  title: string;
  /** One label per bar (x axis). */
  labels: string[];
  /** Stacked bottom to top, in order. */
  series: ChartSeries[];
  /** Unit for tooltips, e.g. "hits". */
  unit: string;
}

export interface HorizontalBarItem {
  label: string;
  value: number;
  /** Extra tooltip text (the full label when the shown one is cut). */
  detail?: string;
  /** CSS class of the bar; 'unused' draws a zero-value marker. */
  className?: string;
}

export interface HorizontalBarSpec {
  id: string;
  title: string;
  items: HorizontalBarItem[];
  unit: string;
}

const WIDTH = 720;
const fmt = formatCount;
/** Shortens a label for an axis; done on raw text before escaping so no entity is cut. */
export function truncateLabel(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}
/** A round upper bound for an axis (1, 2 or 5 times a power of ten), at least 1. */
export function niceMax(max: number): number {
  if (max <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}
const num = (n: number): string => (Math.round(n * 100) / 100).toString();

function figure(id: string, title: string, body: string, extraClass = ''): string {
  return `<figure class="chart${extraClass ? ` ${extraClass}` : ''}" data-chart="${escapeHtml(id)}"><figcaption>${escapeHtml(title)}</figcaption>${body}</figure>`;
}

function emptyChart(id: string, title: string, why: string): string {
  return figure(id, title, `<p class="empty">${escapeHtml(why)}</p>`);
}

/** Attributes of a data mark: its classes, the readout text, and keyboard focus for the readout. */
function datumAttrs(tip: string, className: string): string {
  return ` class="datum ${escapeHtml(className)}" data-tip="${escapeHtml(tip)}" tabindex="0"`;
}

/** Vertical (stacked) bars: one bar per label, one layer per series. */
export function barChart(spec: BarChartSpec): string {
  const n = spec.labels.length;
  const totals = spec.labels.map((_, i) => spec.series.reduce((s, series) => s + (series.values[i] ?? 0), 0));
  if (n === 0 || totals.every((t) => t === 0)) return emptyChart(spec.id, spec.title, 'No data in the window.');
  const height = 240;
  const left = 48;
  const right = 8;
  const top = 12;
  const bottom = 44;
  const plotW = WIDTH - left - right;
  const plotH = height - top - bottom;
  const max = niceMax(maxOf(totals));
  const slot = plotW / n;
  const barW = Math.max(1, Math.min(40, slot * 0.75));
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  // Y axis: 0, half, max.
  for (const t of [0, max / 2, max]) {
    parts.push(`<line class="grid" x1="${left}" x2="${WIDTH - right}" y1="${num(y(t))}" y2="${num(y(t))}"/>`);
    parts.push(`<text class="tick" x="${left - 6}" y="${num(y(t) + 4)}" text-anchor="end">${escapeHtml(fmt(t))}</text>`);
  }
  // X labels: at most ~12, evenly spaced, so dates never overlap.
  const every = Math.max(1, Math.ceil(n / 12));
  for (let i = 0; i < n; i++) {
    const x = left + slot * i + slot / 2;
    let stackTop = 0;
    for (const series of spec.series) {
      const v = series.values[i] ?? 0;
      if (v <= 0) continue;
      const y0 = y(stackTop);
      const y1 = y(stackTop + v);
      stackTop += v;
      const tip = `${spec.labels[i]}: ${fmt(v)} ${spec.unit}${spec.series.length > 1 ? ` (${series.name})` : ''}`;
      parts.push(`<rect${datumAttrs(tip, series.className)} x="${num(x - barW / 2)}" y="${num(y1)}" width="${num(barW)}" height="${num(Math.max(0.5, y0 - y1))}"><title>${escapeHtml(tip)}</title></rect>`);
    }
    if (i % every === 0) {
      parts.push(`<text class="tick" x="${num(x)}" y="${height - bottom + 16}" text-anchor="middle">${escapeHtml(truncateLabel(spec.labels[i]!, 12))}</text>`);
    }
  }
  parts.push(`<line class="axis" x1="${left}" x2="${WIDTH - right}" y1="${top + plotH}" y2="${top + plotH}"/>`);
  const legend = spec.series.length > 1
    ? `<div class="legend">${spec.series.map((s) => `<span><i class="swatch ${escapeHtml(s.className)}"></i>${escapeHtml(s.name)}</span>`).join('')}</div>`
    : '';
  const svg = `<svg viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(spec.title)}" preserveAspectRatio="xMidYMid meet">${parts.join('')}</svg>`;
  return figure(spec.id, spec.title, svg + legend);
}

/** Horizontal bars, one per item (top blockers, rule usage); labels on the left. */
export function horizontalBarChart(spec: HorizontalBarSpec): string {
  if (spec.items.length === 0) return emptyChart(spec.id, spec.title, 'No data in the window.');
  const rowH = 22;
  const labelW = 260;
  const right = 70;
  const top = 6;
  const height = top * 2 + rowH * spec.items.length;
  const plotW = WIDTH - labelW - right;
  const max = niceMax(maxOf(spec.items.map((i) => i.value)));
  const parts: string[] = [];
  spec.items.forEach((item, i) => {
    const y = top + i * rowH;
    const w = item.value <= 0 ? 3 : Math.max(1, (item.value / max) * plotW);
    const tip = `${item.detail ?? item.label}: ${fmt(item.value)} ${spec.unit}`;
    const cls = item.className ?? 'bar';
    parts.push(`<text class="label" x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${escapeHtml(truncateLabel(item.label, 38))}</text>`);
    parts.push(`<rect${datumAttrs(tip, cls)} x="${labelW}" y="${y + 3}" width="${num(w)}" height="${rowH - 6}"><title>${escapeHtml(tip)}</title></rect>`);
    parts.push(`<text class="value" x="${num(labelW + w + 6)}" y="${y + rowH / 2 + 4}">${escapeHtml(item.value <= 0 ? '0 (unused)' : fmt(item.value))}</text>`);
  });
  const svg = `<svg viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(spec.title)}" preserveAspectRatio="xMidYMid meet">${parts.join('')}</svg>`;
  return figure(spec.id, spec.title, svg);
}

/** A small line chart (a path plus a circle per point), for a profile's hits per day. */
export function sparkline(spec: { id: string; title: string; labels: string[]; values: number[]; unit: string; className: string }): string {
  if (spec.values.length === 0 || spec.values.every((v) => v === 0)) return emptyChart(spec.id, spec.title, 'No hits in the window.');
  const height = 120;
  const left = 48;
  const right = 12;
  const top = 10;
  const bottom = 22;
  const plotW = WIDTH - left - right;
  const plotH = height - top - bottom;
  const max = niceMax(maxOf(spec.values));
  const n = spec.values.length;
  const x = (i: number): number => left + (n > 1 ? (plotW * i) / (n - 1) : plotW / 2);
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  for (const t of [0, max]) {
    parts.push(`<line class="grid" x1="${left}" x2="${WIDTH - right}" y1="${num(y(t))}" y2="${num(y(t))}"/>`);
    parts.push(`<text class="tick" x="${left - 6}" y="${num(y(t) + 4)}" text-anchor="end">${escapeHtml(fmt(t))}</text>`);
  }
  parts.push(`<text class="tick" x="${left}" y="${height - 6}" text-anchor="start">${escapeHtml(truncateLabel(spec.labels[0] ?? '', 12))}</text>`);
  if (n > 1) parts.push(`<text class="tick" x="${WIDTH - right}" y="${height - 6}" text-anchor="end">${escapeHtml(truncateLabel(spec.labels[n - 1] ?? '', 12))}</text>`);
  const d = spec.values.map((v, i) => `${i === 0 ? 'M' : 'L'}${num(x(i))} ${num(y(v))}`).join(' ');
  parts.push(`<path class="line ${escapeHtml(spec.className)}" d="${d}" fill="none"/>`);
  spec.values.forEach((v, i) => {
    const tip = `${spec.labels[i] ?? ''}: ${fmt(v)} ${spec.unit}`;
    parts.push(`<circle${datumAttrs(tip, `dot ${spec.className}`)} cx="${num(x(i))}" cy="${num(y(v))}" r="3"><title>${escapeHtml(tip)}</title></circle>`);
  });
  const svg = `<svg viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(spec.title)}" preserveAspectRatio="xMidYMid meet">${parts.join('')}</svg>`;
  return figure(spec.id, spec.title, svg, 'spark');
}

/** Largest value (0 for none), without spreading: a long axis must not overflow the stack. */
function maxOf(values: readonly number[]): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}
