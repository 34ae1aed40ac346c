// HTML report (report stage) in headless Debian chromium via playwright-core: no console errors,
// every chart drawn, a screenshot that is not blank, no request leaving the page, and log fields
// carrying script that is shown as text and never runs. One browser for the whole file.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { driftCommand } from '../src/cli/commands/drift.js';
import { reportCommand } from '../src/cli/commands/report.js';
import { createTestIO } from '../src/cli/io.js';
import { escapeHtml, jsonForScript } from '../src/report/escape.js';
import { REPORT_CSP } from '../src/report/html.js';
import { launchBrowser, watchPage, type PageWatch, type TestBrowser } from './helpers/browser.js';

// ── Logs with hostile fields (each survives normalization: profile and resource ids are only
// lower-cased, operation and matched-rule names are kept as they are; FQDNs cannot carry these) ──

const ZERO_SUB = '/subscriptions/00000000-0000-0000-0000-000000000000';
const P = `${ZERO_SUB}/resourceGroups/rg-test/providers/Microsoft.Network/networkSecurityPerimeters/nsp-test`;
const STORAGE = `${ZERO_SUB}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/st1`;
const HOSTILE_PROFILE = '<script>window.__pwned=1</script>"><img src=x onerror=window.__pwned=2>';
const HOSTILE_OPERATION = `<img src=x onerror=window.__pwned=3>'"\u2028</script><!--`;
const HOSTILE_CALLER = '/subscriptions/33333333-3333-3333-3333-333333333333/resourcegroups/rg-x/providers/microsoft.web/sites/<svg onload=window.__pwned=4>';
const HOSTILE_RESOURCE = `${ZERO_SUB}/resourcegroups/rg-app/providers/microsoft.storage/storageaccounts/"><script>window.__pwned=5</script>`;
const HOSTILE_RULE = '<img src=x onerror=window.__pwned=6>';
const DAY0 = Date.UTC(2026, 2, 1);

interface Event { day: number; category: string; profile: string; ip?: string; caller?: string; fqdn?: string; count?: number; rule?: string; resource?: string; op?: string }

function row(e: Event): Record<string, unknown> {
  return {
    TimeGenerated: new Date(DAY0 + e.day * 86_400_000 + 9 * 3_600_000).toISOString(), Category: e.category, _ResourceId: P,
    Profile: e.profile, ServiceResourceId: e.resource ?? STORAGE, OperationName: e.op ?? 'GetBlob', Count: e.count ?? 1,
    SourceIpAddress: e.ip, SourceResourceId: e.caller, DestinationFqdn: e.fqdn, MatchedRule: e.rule,
  };
}

function events(lastDay: number): Event[] {
  const list: Event[] = [];
  for (let day = 0; day <= lastDay; day++) {
    list.push({ day, category: 'NspPublicInboundResourceRulesAllowed', profile: 'app', ip: '203.0.113.10', count: 3 + day });
    if (day % 2 === 0) list.push({ day, category: 'NspPublicInboundResourceRulesAllowed', profile: 'app', ip: '198.51.100.7', count: 2 });
    if (day >= 3) list.push({ day, category: 'NspPublicInboundResourceRulesAllowed', profile: 'app', ip: '198.51.100.8', count: 1 });
    list.push({ day, category: 'NspPublicInboundResourceRulesAllowed', profile: 'app', caller: HOSTILE_CALLER, count: 4, resource: HOSTILE_RESOURCE });
    list.push({ day, category: 'NspPublicOutboundResourceRulesAllowed', profile: 'app', fqdn: 'api.example.com', count: 5, op: 'IndexerRun' });
    list.push({ day, category: 'NspPublicInboundPerimeterRulesAllowed', profile: 'app', ip: '198.51.100.20', rule: 'allow-ci', count: 6 });
    list.push({ day, category: 'NspPrivateInboundAllowed', profile: 'app', ip: '10.1.0.4', count: 2 });
    if (day === 1) list.push({ day, category: 'NspPublicInboundResourceRulesDenied', profile: 'app', ip: '203.0.113.99', count: 3 });
    list.push({ day, category: 'NspPublicInboundPerimeterRulesAllowed', profile: HOSTILE_PROFILE, ip: '198.51.100.30', rule: HOSTILE_RULE, count: 3 });
    if (day >= 2) list.push({ day, category: 'NspPublicInboundPerimeterRulesDenied', profile: HOSTILE_PROFILE, ip: '198.51.100.31', op: HOSTILE_OPERATION, resource: HOSTILE_RESOURCE });
  }
  return list;
}

const dir = mkdtempSync(join(tmpdir(), 'nspa-report-'));
const writeJsonl = (name: string, list: Event[]): string => {
  const path = join(dir, name);
  writeFileSync(path, `${list.map((e) => JSON.stringify(row(e))).join('\n')}\n`);
  return path;
};
const BASELINE = join(dir, 'baseline.json');
writeFileSync(BASELINE, JSON.stringify([
  { id: `${P}/profiles/app/accessRules/allow-ci`, name: 'allow-ci', direction: 'Inbound', addressPrefixes: ['198.51.100.20/32'] },
  { id: `${P}/profiles/app/accessRules/allow-old`, name: 'allow-old', direction: 'Inbound', addressPrefixes: ['192.0.2.0/28'] },
]));

const REPORT_HTML = join(dir, 'report.html');
const DRIFT_HTML = join(dir, 'drift.html');
/** Charts every report has, by data-chart. */
const REPORT_CHARTS = ['hits-per-day', 'new-sources-per-day', 'top-blockers', 'rule-usage', 'profile-0-hits', 'profile-1-hits'];

let browser: TestBrowser;

// The page functions passed to page.evaluate run in chromium, not in Node. The project's tsconfig
// has no DOM lib (adding one would change every file's globals), so the few DOM globals they
// use are declared here, loosely, for this module only.
declare const document: any;
declare const window: any;
declare const Image: any;

beforeAll(async () => {
  const io = createTestIO();
  const logs = writeJsonl('logs.jsonl', events(4));
  expect(await reportCommand.run({ paths: [logs], existing: [BASELINE], out: REPORT_HTML, quiet: true }, io, {})).toBe(0);
  // drift --format html after an earlier run, so the history part (new-source rate) has two runs.
  const history = join(dir, 'history');
  const driftArgs = { baseline: [BASELINE], history, 'fail-on': ['none'], 'legit-min-days': 2, 'legit-min-hits': 10, quiet: true };
  expect(await driftCommand.run({ ...driftArgs, paths: [writeJsonl('early.jsonl', events(2))], format: 'md' }, createTestIO(), {})).toBe(0);
  expect(await driftCommand.run({ ...driftArgs, paths: [logs], format: 'html', out: DRIFT_HTML }, createTestIO(), {})).toBe(0);
  // Installs Debian's chromium when missing (minutes); fails the file with the reason if it cannot.
  browser = await launchBrowser();
}, 15 * 60_000);

afterAll(async () => {
  await browser?.close();
});

async function open(path: string): Promise<{ page: Page; watch: PageWatch }> {
  const page = await browser.context.newPage();
  const watch = watchPage(page);
  await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
  return { page, watch };
}

/** Counts the marks of each chart (rect, path, circle) and the data marks among them. */
async function chartMarks(page: Page): Promise<Record<string, { marks: number; data: number }>> {
  return page.evaluate(() => {
    const result: Record<string, { marks: number; data: number }> = {};
    for (const figure of document.querySelectorAll('figure.chart') as Iterable<any>) {
      const svg = figure.querySelector('svg');
      result[figure.dataset.chart ?? '?'] = {
        marks: svg ? svg.querySelectorAll('rect, path, circle').length : 0,
        data: svg ? svg.querySelectorAll('.datum').length : 0,
      };
    }
    return result;
  });
}

describe('HTML report (no browser)', () => {
  it('escapes text for HTML and JSON for a script block', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const hostile = { s: `</script><!--\u2028\u2029&>` };
    const encoded = jsonForScript(hostile);
    expect(encoded).not.toMatch(/[<>&\u2028\u2029]/);
    expect(encoded).toContain('\\u003c/script\\u003e');
    expect(JSON.parse(encoded)).toEqual(hostile);
  });

  it('is one self-contained, deterministic file whose only script is allowed by hash', async () => {
    const html = readFileSync(REPORT_HTML, 'utf8');
    const again = join(dir, 'again.html');
    expect(await reportCommand.run({ paths: [join(dir, 'logs.jsonl')], existing: [BASELINE], out: again, quiet: true }, createTestIO(), {})).toBe(0);
    expect(readFileSync(again, 'utf8')).toBe(html);
    // No URL to fetch: no http(s), no src/href outside the page.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/\s(src|href)="(?!#)/);
    // Charts are in the markup itself, before any script runs.
    for (const chart of REPORT_CHARTS) expect(html).toMatch(new RegExp(`data-chart="${chart}"><figcaption>[^<]*</figcaption><svg`));
    // One executable script, and the CSP names exactly its hash.
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256').update(scripts[0]!).digest('base64');
    expect(REPORT_CSP).toBe(`default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="${escapeHtml(REPORT_CSP)}">`);
    // The hostile fields never appear unescaped.
    for (const payload of [HOSTILE_PROFILE, HOSTILE_OPERATION, HOSTILE_CALLER, HOSTILE_RULE]) expect(html).not.toContain(payload);
  });

  it('still writes the charts when a profile is over the element limit, and says why it has no rules', async () => {
    const out = join(dir, 'over-limit.html');
    const run = reportCommand.run({ paths: [join(dir, 'logs.jsonl')], out, quiet: true, 'max-elements': 1 }, createTestIO(), {});
    await expect(run).rejects.toMatchObject({ code: 'over-limit' });
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('No rules recommended: Cannot fit inbound rules for profile &quot;app&quot;');
    expect(html).toContain('data-chart="hits-per-day"><figcaption>Hits per day</figcaption><svg');
  });
});

describe('HTML report in chromium', () => {
  it('loads offline without console errors, runs its script, and requests nothing but the file', async () => {
    const { page, watch } = await open(REPORT_HTML);
    expect(await page.evaluate(() => document.documentElement.dataset.ready)).toBe('true');
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
    expect(watch.requests.filter((url) => !url.startsWith('file://') && !url.startsWith('data:'))).toEqual([]);
    expect(watch.requests).toEqual([pathToFileURL(REPORT_HTML).href]);
    await page.close();
  });

  it('draws every chart with data marks', async () => {
    const { page } = await open(REPORT_HTML);
    const marks = await chartMarks(page);
    expect(Object.keys(marks).sort()).toEqual([...REPORT_CHARTS].sort());
    for (const chart of REPORT_CHARTS) {
      expect(marks[chart]!.marks, chart).toBeGreaterThan(0);
      expect(marks[chart]!.data, chart).toBeGreaterThan(0);
    }
    // One mark per day and class with hits; 5 blockers (3 addresses, a caller, an FQDN); 2 rules used + 1 unused.
    expect(marks['hits-per-day']!.data).toBe(5 * 3 + 4); // blocker, allowed, exempt every day; denied from day 1
    expect(marks['top-blockers']!.data).toBe(5);
    expect(marks['rule-usage']!.data).toBe(3);
    expect(await page.locator('[data-chart="rule-usage"] text').allTextContents()).toContain('0 (unused)');
    await page.close();
  });

  it('renders a screenshot that is not blank', async () => {
    const { page } = await open(REPORT_HTML);
    const shot = await page.screenshot();
    await page.screenshot({ path: '/tmp/nsp-advisor-report.png', fullPage: true });
    const blankPage = await browser.context.newPage();
    await blankPage.setContent('<!doctype html><html><body></body></html>');
    const blank = await blankPage.screenshot();
    expect(shot.length).toBeGreaterThan(blank.length * 10);
    // Decode the PNG in a canvas (on the blank page: the report's CSP rightly forbids this) and
    // count colours and non-white pixels.
    const stats = await blankPage.evaluate(async (dataUrl) => {
      const image = new Image();
      image.src = dataUrl;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(image, 0, 0);
      const data: Uint8ClampedArray = ctx.getImageData(0, 0, image.width, image.height).data;
      const colours = new Set<number>();
      let ink = 0;
      for (let i = 0; i < data.length; i += 4) {
        colours.add(((data[i]! >> 3) << 10) | ((data[i + 1]! >> 3) << 5) | (data[i + 2]! >> 3));
        if (data[i]! < 235 || data[i + 1]! < 235 || data[i + 2]! < 235) ink++;
      }
      return { width: image.width as number, colours: colours.size, inkShare: ink / (data.length / 4) };
    }, `data:image/png;base64,${shot.toString('base64')}`);
    expect(stats.width).toBe(1280);
    expect(stats.colours).toBeGreaterThan(30);
    expect(stats.inkShare).toBeGreaterThan(0.05);
    await blankPage.close();
    await page.close();
  });

  it('shows hostile log fields as text and never runs them', async () => {
    const { page, watch } = await open(REPORT_HTML);
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
    const dom = await page.evaluate(() => ({
      scripts: document.scripts.length,
      handlers: document.querySelectorAll('[onerror], [onload]').length,
      images: document.querySelectorAll('img').length,
      svgs: [...document.querySelectorAll('svg')].filter((s: any) => !s.closest('figure')).length,
      text: document.body.innerText,
      options: [...document.querySelectorAll('#profile-filter option')].map((o: any) => o.textContent as string),
      data: JSON.parse(document.getElementById('report-data').textContent) as { profiles: { profile: string }[] },
    }));
    expect(dom).toMatchObject({ scripts: 2, handlers: 0, images: 0, svgs: 0 });
    expect(dom.text).toContain(`nsp-test/${HOSTILE_PROFILE}`);
    expect(dom.text).toContain('<svg onload=window.__pwned=4>'); // the caller, by resource name, in the top blockers
    expect(dom.options).toContain(`nsp-test/${HOSTILE_PROFILE} (enforced)`);
    expect(dom.data.profiles.map((p) => p.profile)).toContain(HOSTILE_PROFILE);
    expect(await page.locator('[data-chart="rule-usage"] text.label').allTextContents()).toContain(HOSTILE_RULE);
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.requests).toHaveLength(1);
    await page.close();
  });

  it('filters by profile, sorts tables and reads out chart marks', async () => {
    const { page } = await open(REPORT_HTML);
    await page.selectOption('#profile-filter', '1');
    expect(await page.locator('section.profile:visible').count()).toBe(1);
    expect(await page.locator('section.profile:visible h2').textContent()).toContain('app'); // profiles sorted: "<script…" < "app"
    await page.selectOption('#profile-filter', 'all');
    expect(await page.locator('section.profile:visible').count()).toBe(2);

    const rules = page.locator('#profile-1 table').nth(0);
    const hitsOf = async () => (await rules.locator('tbody tr td:nth-child(4)').allTextContents()).map((t) => Number(t.replace(/,/g, '')));
    await rules.locator('th', { hasText: 'hits' }).click();
    const ascending = await hitsOf();
    expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
    await rules.locator('th', { hasText: 'hits' }).click();
    expect(await hitsOf()).toEqual([...ascending].reverse());

    await page.locator('[data-chart="top-blockers"] .datum').first().hover();
    await expect.poll(() => page.locator('#tip').textContent()).toMatch(/hits$/);
    await page.close();
  });

  it('renders drift --format html with the drift and history parts, offline and inert', async () => {
    const { page, watch } = await open(DRIFT_HTML);
    expect(await page.evaluate(() => document.documentElement.dataset.ready)).toBe('true');
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
    expect(watch.requests).toEqual([pathToFileURL(DRIFT_HTML).href]);
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
    const marks = await chartMarks(page);
    for (const chart of [...REPORT_CHARTS, 'new-source-rate']) expect(marks[chart]?.data, chart).toBeGreaterThan(0);
    expect(marks['new-source-rate']!.data).toBe(2);
    const text = await page.locator('main').innerText();
    expect(text).toContain('Exit 0: no --fail-on condition holds');
    expect(text).toMatch(/This run: flows-2026-03-05\.arrow, compared with flows-2026-03-03\.arrow/);
    expect(text).toContain('198.51.100.8'); // a new source since the first run
    // The denied flow's operation (kept verbatim by ingest) is shown as text in the denial table.
    expect(await page.locator('#drift').count()).toBe(1);
    expect(await page.locator('section.profile td', { hasText: '<img src=x onerror=window.__pwned=3>' }).count()).toBe(1);
    await page.screenshot({ path: '/tmp/nsp-advisor-drift.png', fullPage: true });
    await page.close();
  });
});
