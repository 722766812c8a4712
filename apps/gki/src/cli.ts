#!/usr/bin/env node
import { main } from './main.js';

// A reader that goes away early (`gki config symbols | head`) closes the pipe: stop quietly, as
// a command killed by SIGPIPE does (the shell's status 141), instead of an unhandled 'error'
// event and its stack trace.
for (const s of [process.stdout, process.stderr])
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });

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
