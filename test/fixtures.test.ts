// Fixtures: the committed estate is exactly what the seeded generator writes, so anyone can
// regenerate it (`npm run fixtures`) and review a change to the generator as a change to data.

import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFixtures } from '../fixtures/generate.js';

function listFiles(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(root, full) : [relative(root, full)];
  }).sort();
}

describe('fixtures', () => {
  it('match the seeded generator byte for byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nspa-fixtures-'));
    writeFixtures(dir);
    const generated = listFiles(dir);
    const committed = listFiles('fixtures').filter((f) => !f.endsWith('.ts') && !f.endsWith('.md'));
    expect(committed).toEqual(generated);
    for (const f of generated) expect(readFileSync(join('fixtures', f)).equals(readFileSync(join(dir, f))), f).toBe(true);
  });
});
