#!/usr/bin/env node
import { main } from './main.js';

try {
  process.exitCode = await main(process.argv.slice(2), {
    out: (s) => process.stdout.write(s + '\n'),
    err: (s) => process.stderr.write(s + '\n'),
  });
} catch (e) {
  // main reports its own errors; this only catches a failure to report one
  process.stderr.write(`gki: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
