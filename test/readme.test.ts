// The README's library example, run as written (with the bundled sample instead of ./insights-logs).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emitters, gatherFlows, recommend } from '../src/index.js';

describe('README', () => {
  it('shows a library example that runs', async () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain("const { summary } = await gatherFlows({ paths: ['./insights-logs'] });");
    const { summary } = await gatherFlows({ paths: ['fixtures/estate/storage-account'] });
    const { ruleSet } = recommend(summary, [], { maxElements: 180 });
    const bicep = emitters.bicep.emit(ruleSet);
    expect(bicep).toContain("Microsoft.Network/networkSecurityPerimeters/profiles/accessRules@2024-07-01");
  });

  it('gives the quick start commands exactly', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
    expect(readFileSync('.ci/run', 'utf8')).toContain('npm ci && npm test');
  });
});
