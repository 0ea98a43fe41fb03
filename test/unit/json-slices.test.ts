// The embedded store's sliced serialiser must write exactly what JSON.stringify writes for
// the same state (files stay readable by older versions and by `bench/state-file.mjs`'s
// readers), whatever the slice size, and capture the state at the call; the sliced parser
// must read what JSON.parse reads and reject what it rejects, from a file read a chunk at
// a time (wherever a chunk ends: inside a key, a value, an escape or a multibyte character).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonSliceBytes, jsonSlices, readJsonFileSlices } from '../../src/store/json-slices.js';

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
    it(`as bytes: the UTF-8 of the same text, slice for slice, with ${size} entries per slice`, () => {
      // Each slice is a view of one reused buffer: copied before the next is asked for.
      const bytes = Array.from(jsonSliceBytes(state, size), (b) => Buffer.from(b));
      const texts = [...jsonSlices(state, size)];
      assert.deepEqual(
        bytes.map((b) => b.toString('utf8')),
        texts,
      );
      assert.ok(Buffer.concat(bytes).equals(Buffer.from(JSON.stringify(asPlain(state)))));
    });
  }

  it('as bytes: a slice larger than the buffer it starts with', () => {
    const big = { m: new Map([['k', { s: 'é'.repeat(100_000) }]]), z: 'x'.repeat(70_000) };
    const bytes = Array.from(jsonSliceBytes(big, 1), (b) => Buffer.from(b));
    assert.equal(Buffer.concat(bytes).toString('utf8'), JSON.stringify(asPlain(big)));
  });

  it('matches JSON.stringify for an empty object, an empty Map and a Map last', () => {
    assert.equal([...jsonSlices({})].join(''), '{}');
    const last = { a: 1, m: new Map() };
    assert.equal([...jsonSlices(last)].join(''), '{"a":1,"m":{}}');
    const only = { m: new Map([['k', 1]]) };
    assert.equal([...jsonSlices(only, 1)].join(''), '{"m":{"k":1}}');
  });

  it('writes a Set inside a plain member as an array, a slice of members at a time', () => {
    const s = { a: 1, sets: { gone: undefined, big: new Set(['x', 'y"', 'z']), small: ['q'] } };
    const want = '{"a":1,"sets":{"big":["x","y\\"","z"],"small":["q"]}}';
    for (const size of [1, 2, 500]) assert.equal([...jsonSlices(s, size)].join(''), want);
    assert.equal([...jsonSlices(s, 1)].length, 4, 'one slice per member, then one with the rest');
    assert.equal([...jsonSlices({ e: { s: new Set() } })].join(''), '{"e":{"s":[]}}');
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

describe('readJsonFileSlices', () => {
  const MAPS = new Set(['domains']);
  const now = () => Promise.resolve();
  const textDir = mkdtempSync(join(tmpdir(), 'cirrus-json-text-'));
  after(() => rmSync(textDir, { recursive: true, force: true }));
  let textsWritten = 0;
  /** `text` written to a file and read back 7 bytes a chunk (see below for other sizes). */
  const parseJsonSlices = (
    text: string,
    maps: ReadonlySet<string>,
    pause: () => Promise<void>,
    entriesPerSlice?: number,
  ) => {
    const file = join(textDir, `${++textsWritten}.json`);
    writeFileSync(file, text);
    return readJsonFileSlices(file, maps, pause, entriesPerSlice, 7);
  };
  /** JSON.parse, with the members named in MAPS as Maps: what the reader must return. */
  const expected = (text: string) => {
    const o = JSON.parse(text) as Record<string, unknown>;
    for (const k of MAPS)
      if (o[k] && typeof o[k] === 'object' && !Array.isArray(o[k]))
        Object.defineProperty(o, k, {
          value: new Map(Object.entries(o[k] as object)),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    return o;
  };
  const state = {
    version: 1,
    domains: {
      'a.example.com': { domain: 'a', origins: [{ address: '192.0.2.1', port: 443 }], ttl: 30 },
      'quote"and\\slash\\': { note: 'line\nbreak é ☃ \\" ]} {[', n: -1.5e3, ok: true, z: null },
      'ends-in-backslash\\': { s: '\\\\', empty: '', list: [[], {}, [1, [2]]] },
    },
    nodes: { 'edge-1': { id: 'edge-1', health: { state: 'up', n: 0 } } },
    zones: { 'cdn.example.net.': '$ORIGIN x.\n@ 300 IN TXT "a;b"\n' },
    policy: null,
    flag: false,
    ['__proto__']: { not: 'a prototype' },
  };
  const texts = {
    compact: JSON.stringify(state),
    pretty: JSON.stringify(state, null, 2),
    'empty domains': JSON.stringify({ version: 1, domains: {}, nodes: {} }),
    'domains not an object': JSON.stringify({ domains: null }),
    empty: ' { } ',
  };

  for (const [name, text] of Object.entries(texts)) {
    for (const size of [1, 2, 500]) {
      it(`reads what JSON.parse reads: ${name}, ${size} per slice`, async () => {
        const got = await parseJsonSlices(text, MAPS, now, size);
        assert.deepEqual(got, expected(text));
        assert.equal(Object.getPrototypeOf(got), Object.prototype);
      });
    }
  }

  it('rejects every truncation of a file, as a half-written file would be', async () => {
    const text = texts.pretty;
    for (let len = 0; len < text.trimEnd().length; len++) {
      await assert.rejects(
        parseJsonSlices(text.slice(0, len), MAPS, now, 1),
        SyntaxError,
        `length ${len}`,
      );
    }
  });

  it('rejects what JSON.parse rejects around and inside the values, and non-objects', async () => {
    for (const notObject of ['[]', 'null', '"x"', '1'])
      await assert.rejects(parseJsonSlices(notObject, MAPS, now), SyntaxError, notObject);
    for (const bad of [
      '{"domains":{"a":1}} x',
      '{"domains":{"a":1,}}',
      '{"domains":{"a" 1}}',
      '{"domains":{"a":{]}}',
      '{"domains":{"a":tru}}',
      '{"a":1 "b":2}',
      "{'a':1}",
      '{"a":01}',
    ]) {
      assert.throws(() => JSON.parse(bad), SyntaxError, bad);
      await assert.rejects(parseJsonSlices(bad, MAPS, now), SyntaxError, bad);
    }
  });

  it('hands the event loop back between slices of the Map member', async () => {
    const domains = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`d${i}`, { i }]));
    let pauses = 0;
    const got = await parseJsonSlices(
      JSON.stringify({ domains }),
      MAPS,
      async () => void pauses++,
      3,
    );
    assert.equal(pauses, 3);
    assert.equal((got.domains as Map<string, unknown>).size, 10);
  });
  describe('from a file, a chunk at a time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cirrus-json-slices-'));
    const fileOf = (name: string, text: string) => {
      const f = join(dir, `${name.replace(/\W/g, '_')}.json`);
      writeFileSync(f, text);
      return f;
    };
    it('reads what JSON.parse reads, for chunks of 1 to 64 bytes and the default', async () => {
      try {
        for (const [name, text] of Object.entries(texts)) {
          const f = fileOf(name, text);
          for (const chunk of [1, 2, 3, 7, 64, undefined]) {
            const got = await readJsonFileSlices(f, MAPS, now, 2, chunk);
            assert.deepEqual(got, expected(text), `${name}, chunk ${chunk}`);
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    it('rejects every truncation of a file, whatever the chunk size', async () => {
      const text = texts.pretty;
      const d = mkdtempSync(join(tmpdir(), 'cirrus-json-slices-'));
      try {
        for (let len = 0; len < text.trimEnd().length; len += 3) {
          const f = join(d, 'cut.json');
          writeFileSync(f, Buffer.from(text).subarray(0, len));
          for (const chunk of [1, 5])
            await assert.rejects(
              readJsonFileSlices(f, MAPS, now, 1, chunk),
              SyntaxError,
              `length ${len}, chunk ${chunk}`,
            );
        }
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });
    it('reads a file of many entries larger than the chunk, with a value larger than it', async () => {
      const domains = Object.fromEntries(
        Array.from({ length: 3000 }, (_, i) => [
          `d${i}.example.com`,
          { i, note: 'é☃'.repeat(i % 5) },
        ]),
      );
      const big = { names: Array.from({ length: 5000 }, (_, i) => `n${i}`) };
      const text = JSON.stringify({ version: 2, domains, big });
      const d = mkdtempSync(join(tmpdir(), 'cirrus-json-slices-'));
      try {
        const f = join(d, 'large.json');
        writeFileSync(f, text);
        const got = await readJsonFileSlices(f, MAPS, now, 500, 4096);
        assert.deepEqual(got, expected(text));
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    });
  });
});
