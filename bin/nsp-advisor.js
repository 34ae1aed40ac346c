#!/usr/bin/env node
// CLI shim: runs the CLI as bundled by the build (`npm ci` runs it through the prepare script:
// scripts/bundle-cli.mjs). When the arguments name large local files, the analysis workers start
// first: they boot while the CLI loads.
const args = process.argv.slice(2);
const { prestartWorkersFor } = await import('../dist/src/bundle/worker-pool.js');
prestartWorkersFor(args);
const { main } = await import('../dist/src/bundle/cli.js');

process.exitCode = await main(args);
