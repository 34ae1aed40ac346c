#!/usr/bin/env node
// CLI shim: runs the compiled entry point (built by `npm ci` through the prepare script).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
