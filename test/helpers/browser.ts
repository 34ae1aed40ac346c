// Test helper (report stage): Debian's chromium driven by playwright-core, for the HTML report
// tests. Installs chromium through scripts/ensure-chromium.sh when it is missing, and fails loudly
// (never skips) when it cannot; watches a page's console, errors and requests.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
/** Flags that work in this sandbox-less, GPU-less environment (stack.md §8); no background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Makes sure /usr/bin/chromium exists, running scripts/ensure-chromium.sh (apt-get) if not.
 * @throws Error with the script's last output lines when chromium cannot be installed
 */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM_PATH)) return;
  const script = join(REPO_ROOT, 'scripts', 'ensure-chromium.sh');
  const run = spawnSync('bash', [script], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (run.status !== 0 || !existsSync(CHROMIUM_PATH)) {
    const tail = `${run.stderr ?? ''}${run.error ? String(run.error) : ''}`.trim().split('\n').slice(-6).join('\n  ');
    throw new Error(`The HTML report tests need Debian's chromium at ${CHROMIUM_PATH}, and ${script} could not install it ` +
      `(exit ${String(run.status)}):\n  ${tail}\nInstall it as root: apt-get update && apt-get install -y chromium`);
  }
}

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches headless chromium with a fresh profile folder (removed on close). */
export async function launchBrowser(viewport = { width: 1280, height: 900 }): Promise<TestBrowser> {
  ensureChromium();
  const userDataDir = mkdtempSync(join(tmpdir(), 'nspa-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, viewport,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** What a page did: console errors, uncaught exceptions and every URL it requested. */
export interface PageWatch {
  consoleErrors: string[];
  pageErrors: string[];
  requests: string[];
}

/** Starts recording a page's console errors, page errors and requests (call before goto). */
export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { consoleErrors: [], pageErrors: [], requests: [] };
  page.on('console', (message) => { if (message.type() === 'error') watch.consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => { watch.pageErrors.push(String(error)); });
  page.on('request', (request) => { watch.requests.push(request.url()); });
  return watch;
}
