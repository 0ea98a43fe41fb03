// The start-up collection runs the runtime's gc once when it is exposed, and does nothing
// (undefined) when it is not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { collectStartupGarbage } from '../../src/lib/startup-gc.js';

describe('collectStartupGarbage', () => {
  it('does nothing without an exposed gc', () => {
    const g = globalThis as { gc?: unknown };
    const saved = g.gc;
    delete g.gc;
    try {
      assert.equal(collectStartupGarbage(), undefined);
    } finally {
      if (saved !== undefined) g.gc = saved;
    }
  });

  it('calls the exposed gc once and reports the heap around it', () => {
    const g = globalThis as { gc?: unknown };
    const saved = g.gc;
    let calls = 0;
    g.gc = () => void calls++;
    try {
      const r = collectStartupGarbage();
      assert.equal(calls, 1);
      assert.ok(r && r.ms >= 0 && r.heapBeforeMb > 0 && r.heapAfterMb > 0);
    } finally {
      if (saved === undefined) delete g.gc;
      else g.gc = saved;
    }
  });
});
