// The embedded store's sliced serialiser must write exactly what JSON.stringify writes for
// the same state (files stay readable by older versions and by `bench/state-file.mjs`'s
// readers), whatever the slice size, and capture the state at the call.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonSlices } from '../../src/store/json-slices.js';

const asPlain = (state: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(state).map(([k, v]) => [k, v instanceof Map ? Object.fromEntries(v) : v]),
  );

describe('jsonSlices', () => {
  const domains = new Map<string, unknown>();
  for (let i = 0; i < 7; i++)
    domains.set(`site-${i}.example.com`, { domain: `site-${i}.example.com`, ttl: i, tags: ['a'] });
  domains.set('quote"and\\slash.example', { domain: 'x', note: 'line\nbreak é ☃' });
  domains.set('gone.example', undefined);
  const state = {
    version: 1,
    domains,
    nodes: { 'edge-1': { id: 'edge-1', health: { state: 'up' } } },
    zones: {},
    policy: null,
    absent: undefined,
    xfr: { peers: null, versions: {}, journals: { z: [{ from: 1 }] } },
  };

  for (const size of [1, 2, 3, 7, 8, 500]) {
    it(`matches JSON.stringify byte for byte with ${size} entries per slice`, () => {
      const text = [...jsonSlices(state, size)].join('');
      assert.equal(text, JSON.stringify(asPlain(state)));
    });
  }

  it('matches JSON.stringify for an empty object, an empty Map and a Map last', () => {
    assert.equal([...jsonSlices({})].join(''), '{}');
    const last = { a: 1, m: new Map() };
    assert.equal([...jsonSlices(last)].join(''), '{"a":1,"m":{}}');
    const only = { m: new Map([['k', 1]]) };
    assert.equal([...jsonSlices(only, 1)].join(''), '{"m":{"k":1}}');
  });

  it('yields one slice per group of Map entries, so the writer can yield between them', () => {
    const slices = [...jsonSlices(state, 3)];
    assert.equal(slices.length, 4, '9 entries in 3 slices, then the members after them');
  });

  it('captures the state at the call, not when the slices are read', () => {
    const m = new Map<string, unknown>([['a', { v: 1 }]]);
    const s = { nodes: { n: { health: 'up' } }, m };
    const slices = jsonSlices(s, 1);
    s.nodes.n.health = 'down';
    m.set('b', { v: 2 });
    m.set('a', { v: 3 });
    assert.equal([...slices].join(''), '{"nodes":{"n":{"health":"up"}},"m":{"a":{"v":1}}}');
  });
});
