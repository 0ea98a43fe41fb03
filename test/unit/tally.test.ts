import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { tallyCounter } from '../../src/metrics/tally.js';

describe('tally counters', () => {
  it('expose what was counted at each scrape, cumulatively, per label set', async () => {
    const registry = new Registry();
    const c = tallyCounter({
      name: 't_total',
      help: 'test',
      labelNames: ['kind'] as const,
      registers: [registry],
    });
    const a = c.tally({ kind: 'a' });
    const b = c.tally({ kind: 'b' });
    const lines = async () =>
      (await registry.getSingleMetricAsString('t_total'))
        .split('\n')
        .filter((l) => !l.startsWith('#'));
    assert.deepEqual(await lines(), [], 'nothing counted, nothing exposed');
    a.inc();
    a.inc();
    assert.deepEqual(await lines(), ['t_total{kind="a"} 2']);
    a.inc();
    b.inc();
    assert.deepEqual(await lines(), ['t_total{kind="a"} 3', 't_total{kind="b"} 1']);
    assert.deepEqual(
      await lines(),
      ['t_total{kind="a"} 3', 't_total{kind="b"} 1'],
      'a scrape counts nothing itself',
    );
  });
});
