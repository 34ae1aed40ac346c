#!/usr/bin/env node
// CLI shim: runs the compiled entry point (built by `npm ci` through the prepare script). When the
// arguments name large local files, the analysis workers start first: they boot while the CLI loads.
const args = process.argv.slice(2);
const { prestartWorkersFor } = await import('../dist/src/analyze/worker-pool.js');
prestartWorkersFor(args);
const { main } = await import('../dist/src/cli/main.js');

process.exitCode = await main(args);
