// CLI end to end, in-process with captured IO: exit codes, --strict, stderr accounts, atomic
// outputs, snapshots between analyze and recommend, help with examples on every command.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commands } from '../src/cli/main.js';
import { runCli } from './helpers/run-cli.js';

const ESTATE = 'fixtures/estate/storage-account';
const tempDir = (): string => mkdtempSync(join(tmpdir(), 'nspa-cli-'));

describe('recommend', () => {
  it('prints the review document on stdout and the per-profile summary on stderr', async () => {
    const r = await runCli('recommend', ESTATE);
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync('test/golden/estate/expected.rules.json', 'utf8'));
    expect(r.err).toMatch(/read 357 files: 496 rows = 496 used \+ 0 skipped; hits 4,599 read, 4,599 used/);
    expect(r.err).toMatch(/nsp-prod\/defaultprofile: 15 blocker flows \(2,006 hits\) → 5 rules \(inbound 5\/200 elements, outbound 0\/200\), 4 unresolved/);
  });

  it('reports bad rows with file:line, goes on, and exits 2 under --strict', async () => {
    const r = await runCli('recommend', ESTATE, 'fixtures/malformed');
    expect(r.code).toBe(0);
    expect(r.err).toContain('warning: fixtures/malformed/bad-rows.jsonl:2: invalid-json:');
    expect(r.err).toContain('warning: fixtures/malformed/bad-columns.csv:3: wrong-column-count:');
    expect(r.err).toMatch(/truncated\.jsonl\.gz:\d+: truncated-input/);
    expect(r.err).toMatch(/rows = \d[\d,]* used \+ 5 skipped \(invalid-count 1, invalid-ip 1, invalid-json 1, unknown-category 1, wrong-column-count 1\).*1 file issues/);
    const strict = await runCli('recommend', ESTATE, 'fixtures/malformed', '--strict');
    expect(strict.code).toBe(2);
    expect(strict.out).toBe('');
    expect(strict.err).toContain('Cannot finish under --strict: 6 issues');
  });

  it('exits 2 naming a missing path', async () => {
    const r = await runCli('recommend', 'fixtures/nope');
    expect(r.code).toBe(2);
    expect(r.err).toContain('Cannot read "fixtures/nope": no such file or directory');
  });

  it('exits 2 on usage errors', async () => {
    expect((await runCli('recommend')).code).toBe(2);
    expect((await runCli('recommend', ESTATE, '--max-elements', '500')).code).toBe(2);
    expect((await runCli('frobnicate')).code).toBe(2);
  });

  it('exits 2 naming the profile when it cannot fit the limit', async () => {
    const r = await runCli('recommend', ESTATE, '--max-elements', '2');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Cannot fit inbound rules for profile "defaultprofile"/);
    expect(r.err).toMatch(/hint: /);
  });

  it('is quiet with --quiet', async () => {
    const r = await runCli('recommend', ESTATE, '--quiet');
    expect(r.err).toBe('');
  });
});

describe('outputs', () => {
  it('writes --out atomically: whole file, no temp files left, old content replaced', async () => {
    const dir = tempDir();
    const out = join(dir, 'review.json');
    writeFileSync(out, 'old');
    const r = await runCli('recommend', ESTATE, '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(readFileSync(out, 'utf8')).toBe(readFileSync('test/golden/estate/expected.rules.json', 'utf8'));
    expect(readdirSync(dir)).toEqual(['review.json']);
  });

  it('leaves no partial or temp file when the write fails', async () => {
    const dir = tempDir();
    const out = join(dir, 'review.json');
    mkdirSync(out); // renaming a file over a directory fails, even for root
    const r = await runCli('recommend', ESTATE, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`Cannot write "${out}"`);
    expect(readdirSync(dir)).toEqual(['review.json']);
    expect(readdirSync(out)).toEqual([]);
  });

  it('carries flows through an Arrow snapshot: analyze --out then recommend --flows', async () => {
    const dir = tempDir();
    const a = join(dir, 'a.arrow');
    const b = join(dir, 'b.arrow');
    expect((await runCli('analyze', 'fixtures/estate/portal', '--out', a)).code).toBe(0);
    expect((await runCli('analyze', ESTATE, '--out', b)).code).toBe(0);
    expect(readFileSync(a)).toEqual(readFileSync(b));
    const direct = await runCli('recommend', ESTATE);
    expect((await runCli('recommend', '--flows', a)).out).toBe(direct.out);
    // A snapshot among the paths is detected from content and merged like any input.
    const mixed = await runCli('analyze', a, 'fixtures/estate/event-hubs', '--json');
    const twice = await runCli('analyze', ESTATE, 'fixtures/estate/event-hubs', '--json');
    expect(mixed.out).toBe(twice.out);
  });

  it('prints flows as a table or JSON', async () => {
    const table = await runCli('analyze', ESTATE);
    expect(table.out).toMatch(/nsp-prod\/defaultprofile\n {2}blocker {2}Inbound {2}ip:198\.51\.100\.17 +373 hits  14 days\n/);
    const asJson = JSON.parse((await runCli('analyze', ESTATE, '--json')).out) as { flows: unknown[] };
    expect(asJson.flows.length).toBeGreaterThan(20);
  });
});

describe('deployable formats', () => {
  it('writes one file per perimeter with --out-dir, or the whole estate on stdout', async () => {
    const dir = tempDir();
    const r = await runCli('recommend', ESTATE, '--format', 'arm', '--out-dir', dir, '-q');
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['nsp-dev.arm.json', 'nsp-prod.arm.json']);
    expect(readFileSync(join(dir, 'nsp-prod.arm.json'), 'utf8')).toBe(readFileSync('test/golden/estate/per-perimeter/nsp-prod.arm.json', 'utf8'));
    for (const [format, golden] of [['bicep', 'expected.bicep'], ['terraform', 'expected.tf'], ['azcli', 'expected.azcli.sh'], ['arm', 'expected.arm.json']]) {
      const out = await runCli('recommend', ESTATE, '--format', format!, '-q');
      expect(out.out, format).toBe(readFileSync(`test/golden/estate/${golden}`, 'utf8'));
    }
    const older = await runCli('recommend', ESTATE, '--format', 'arm', '--api-version', '2025-05-01', '-q');
    expect(older.out).toContain('"apiVersion": "2025-05-01"');
    expect((await runCli('recommend', ESTATE, '--out', 'x', '--out-dir', dir)).code).toBe(2);
  });
});

describe('help', () => {
  it('has examples on every command', async () => {
    for (const spec of commands) {
      const name = spec.command.split(' ')[0]!;
      const r = await runCli(name, '--help');
      expect(r.code, name).toBe(0);
      expect(r.out, name).toContain('Examples:');
      expect(r.out, name).toContain(`nsp-advisor ${name}`);
    }
  });
});

describe('the installed command', () => {
  it('runs through bin/nsp-advisor.js like npm start does', () => {
    const out = execFileSync('node', ['bin/nsp-advisor.js', 'recommend', ESTATE, '-q'], { encoding: 'utf8' });
    expect(out).toBe(readFileSync('test/golden/estate/expected.rules.json', 'utf8'));
  });

  it('runs the bundled CLI (dist/src/bundle) with its own version from any folder', () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const out = execFileSync('node', [join(process.cwd(), 'bin/nsp-advisor.js'), '--version'], { encoding: 'utf8', cwd: tmpdir() });
    expect(out.trim()).toBe(version);
    expect(readFileSync('bin/nsp-advisor.js', 'utf8')).toContain('dist/src/bundle/cli.js');
  });

  it('starts workers ahead for large files, and exits when none of them is taken', () => {
    // A 16 MiB sparse file starts the workers before the CLI loads; --help then takes none: they
    // must not keep the process alive (execFileSync would time out).
    const big = join(mkdtempSync(join(tmpdir(), 'nspa-big-')), 'big.jsonl');
    writeFileSync(big, '');
    truncateSync(big, 16 << 20);
    const out = execFileSync('node', ['bin/nsp-advisor.js', 'analyze', big, '--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(out).toContain('nsp-advisor analyze');
  });
});
