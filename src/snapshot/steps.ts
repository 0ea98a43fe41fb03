// How a snapshot build is cut into steps: a build is a generator that yields every
// BUILD_CHUNK domains; whoever drives it decides whether a yield hands the event loop back
// (lib/cooperative.ts `drive`, by time) or not (runSteps).

/** Domains handled between two yields of a cooperative build. */
export const BUILD_CHUNK = 250;

/** Runs a cooperative build step by step to its end, without yielding to anyone. */
export function runSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}
