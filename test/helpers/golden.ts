// Test helper: compares output with a golden file; UPDATE_GOLDEN=1 rewrites the file instead.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect } from 'vitest';

export function expectGolden(actual: string, path: string): void {
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    if (process.env.CI && !existsSync(path)) throw new Error(`Golden file ${path} is missing (run UPDATE_GOLDEN=1 npm test locally)`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  expect(actual).toBe(readFileSync(path, 'utf8'));
}
