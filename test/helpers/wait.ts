// Waiting in integration tests: a plain sleep, and polling until a check yields a value.

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 20 ms until it returns a value (not undefined, not a rejection). */
export async function eventually<T>(
  what: string,
  ms: number,
  fn: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}
