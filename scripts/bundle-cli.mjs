// Build step (after tsc): bundles the compiled CLI, its workers and the worker pool into
// dist/src/bundle/, which bin/nsp-advisor.js runs. A run then loads a few files instead of about
// 150 modules (ours and yargs'), so it reaches its first worker task a tenth of a second sooner.
// Other packages stay outside (most load only when a command needs them); the WebAssembly fold
// is copied next to the bundle, where fold-engine.ts looks for it.

import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/src/bundle`;
// yargs and the packages it uses: always loaded, so bundled with the CLI (its messages are then
// always in English: its locale files are not found from the bundle).
const BUNDLED = /^(yargs|yargs-parser|y18n|cliui|escalade|get-caller-file|string-width|strip-ansi|wrap-ansi|ansi-regex|ansi-styles|emoji-regex|get-east-asian-width)(\/|$)/;

rmSync(out, { recursive: true, force: true });
await build({
  input: {
    cli: `${root}dist/src/cli/main.js`,
    'worker-pool': `${root}dist/src/analyze/worker-pool.js`,
    'scan-worker': `${root}dist/src/analyze/scan-worker.js`,
    'snapshot-write-worker': `${root}dist/src/analyze/snapshot-write-worker.js`,
  },
  platform: 'node',
  // Packages are external but yargs'; our modules (relative or absolute paths) are bundled.
  external: (id) => !id.startsWith('.') && !isAbsolute(id) && !BUNDLED.test(id),
  output: { dir: out, format: 'esm' },
  logLevel: 'warn',
});
mkdirSync(`${out}/wasm`, { recursive: true });
copyFileSync(`${root}dist/src/analyze/wasm/fold-lines.wasm`, `${out}/wasm/fold-lines.wasm`);
