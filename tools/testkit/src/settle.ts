/**
 * Lets V8's background compiler drain its queue before the next request for optimized code
 * (`@gki/testkit/settle`; every package's bench imports it from here, as tinybench's `setup`
 * hook, so that each task's warm-up and timed samples start with the compiler threads idle).
 *
 * Why a bench needs it (BENCHMARKS.md, "the OSR rows"): V8 (Node 20's 11.3) keeps at most 8
 * concurrent TurboFan jobs waiting (`--concurrent-recompilation-queue-length`). A loop function
 * that gets hot inside its first long call is marked for optimization there, gets on-stack
 * replacement (OSR) code for its loop, and asks for its regular optimized code on its next
 * call. If the queue is full at that moment the request is dropped ("Compilation queue full,
 * will retry optimizing ... later" with `--trace-concurrent-recompilation`), and the retry
 * never comes: every later call enters the cached OSR code at the loop's first back edge, so
 * the function's unoptimized code no longer runs long enough to be marked again. The loop then
 * runs in its OSR code for the rest of the process, which V8 compiles without specializing to
 * the function's closure context (captured tables and module constants are loaded and checked
 * on every iteration): 8.6 instead of 6.3 ns per page for the stack's map_pages loop. Whether
 * the queue is full depends on how far the compiler threads are behind the main thread, i.e.
 * on the machine's load, so the slow processes came and went (and tracing, which slows the
 * main thread, hid them).
 *
 * This sleeps the main thread in short steps until the process uses (almost) no CPU while it
 * sleeps (the compiler threads are idle), at most `maxMs`. It runs no JavaScript and touches
 * no benchmark state: the rows' work, warm-up and checks are unchanged.
 */
const cell = new Int32Array(new SharedArrayBuffer(4));

/** Process CPU time (all threads, ms) that a quiet 5 ms step may use. */
const QUIET_MS = 0.5;
/** Consecutive quiet steps that end the wait. */
const QUIET_STEPS = 3;

export function settleCompiler(maxMs = 1000): void {
  const t0 = performance.now();
  let quiet = 0;
  let before = process.cpuUsage();
  while (quiet < QUIET_STEPS && performance.now() - t0 < maxMs) {
    Atomics.wait(cell, 0, 0, 5);
    const now = process.cpuUsage();
    const usedMs = (now.user + now.system - before.user - before.system) / 1000;
    before = now;
    quiet = usedMs < QUIET_MS ? quiet + 1 : 0;
  }
}
