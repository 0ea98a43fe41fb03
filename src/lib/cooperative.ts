// Runs a cooperative task (a generator that yields between pieces of its work) to its end,
// handing the event loop back to pending I/O, i.e. queries, whenever it has run a while.
/**
 * How long a cooperative task may hold the event loop before handing it back: queries
 * wait at most about this long behind a rebuild (plus one step of its work).
 */
export const SLICE_MS = 4;

/** Resolves on the next turn of the event loop, after the I/O already pending. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Drives a cooperative task, handing the event loop back whenever it has run for
 * `sliceMs`: queries keep being answered from the live snapshot while a large one is
 * built (setImmediate lets pending I/O, i.e. queries, run first).
 */
export async function drive<T>(steps: Generator<void, T>, sliceMs = SLICE_MS): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}
