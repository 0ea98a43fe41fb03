// One full garbage collection once start-up has loaded the store and built the first
// snapshot, before queries are served: loading a large store leaves its file text and
// parse intermediates behind (at 100,000 domains about 60 MB of heap, 60 MB of RSS), and
// V8 may not collect them for a long time in a process that then allocates little.
// Needs the runtime's `gc` (node --expose-gc, as `npm start` and the Docker image run
// Cirrus); without it this does nothing.

export interface StartupCollection {
  ms: number;
  heapBeforeMb: number;
  heapAfterMb: number;
}

/** Collects now when `gc` is exposed; what it freed, or undefined when it is not. */
export function collectStartupGarbage(): StartupCollection | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return undefined;
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  gc();
  const ms = performance.now() - t0;
  const after = process.memoryUsage().heapUsed;
  return { ms, heapBeforeMb: before / 2 ** 20, heapAfterMb: after / 2 ** 20 };
}
