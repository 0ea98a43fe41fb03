// Preload (`node --import`): records every time the event loop was held more than
// LOOP_BLOCK_MS (25) ms, as seen by a 2 ms interval timer firing late, and writes them at
// exit to LOOP_BLOCKS_DIR/blocks-PID.json as [{ endUs, ms }] on the monotonic clock the
// V8 CPU profile uses, so bench/loop-blocks.mjs can say what ran in each. For diagnosis
// only: the timer costs the process a wake-up every 2 ms.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.LOOP_BLOCKS_DIR;
const threshold = Number(process.env.LOOP_BLOCK_MS ?? 25);
if (dir) {
  const blocks = [];
  let last = process.hrtime.bigint();
  setInterval(() => {
    const now = process.hrtime.bigint();
    const ms = Number(now - last) / 1e6;
    if (ms > threshold) blocks.push({ endUs: Number(now / 1000n), ms });
    last = now;
  }, 2).unref();
  process.on('exit', () =>
    writeFileSync(join(dir, `blocks-${process.pid}.json`), JSON.stringify(blocks)),
  );
}
