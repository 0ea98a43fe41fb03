// The MMDB writer, read back by the `maxmind` package: random overlapping inserts against
// a last-insert-wins model (records and exact prefix depths), every data type, record
// sizes, IPv4 and IPv6 trees, and deduplication.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Reader, type Response } from 'maxmind';
import {
  MmdbWriter,
  mmdb,
  recordSizeFor,
  type MmdbValue,
} from '../../src/geo/tools/mmdb-writer.js';
import {
  formatAddress,
  networkRange,
  parseNetwork,
  type Network,
} from '../../src/geo/tools/csv-ranges.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const big = (bits: number) => {
    let v = 0n;
    for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(int(0x10000));
    return v & ((1n << BigInt(bits)) - 1n);
  };
  return { next, int, big };
}

const read = (buf: Buffer) => new Reader<Response>(buf);
const lookup = (r: Reader<Response>, ip: string) => r.getWithPrefixLength(ip) as [unknown, number];

/** The last insert covering each address wins; no insert, no record. */
class Model {
  readonly inserts: { n: Network; first: bigint; last: bigint; id: number }[] = [];
  add(n: Network, id: number) {
    this.inserts.push({ n, ...networkRange(n), id });
  }
  at(family: 4 | 6, a: bigint): number | undefined {
    for (let i = this.inserts.length - 1; i >= 0; i--) {
      const x = this.inserts[i]!;
      if (x.n.family === family && x.first <= a && a <= x.last) return x.id;
    }
    return undefined;
  }
  /** Whether every address of first..last has the same record (or none). */
  uniform(family: 4 | 6, first: bigint, last: bigint): boolean {
    const v = this.at(family, first);
    for (const x of this.inserts) {
      if (x.n.family !== family) continue;
      for (const edge of [x.first, x.last + 1n])
        if (edge > first && edge <= last && this.at(family, edge) !== v) return false;
    }
    return true;
  }
}

function randomNetwork(r: ReturnType<typeof rng>, family: 4 | 6): Network {
  // Crowd the networks into a few regions so that inserts overlap often.
  const bits = family === 4 ? 32 : 128;
  const prefix = family === 4 ? 8 + r.int(25) : 16 + r.int(113);
  const region = BigInt(r.int(3)) << BigInt(bits - 4);
  const raw = region | (r.big(bits) >> 4n);
  const host = (1n << BigInt(bits - prefix)) - 1n;
  return { family, address: raw & ~host, prefix };
}

function roundTrip(seed: number, families: readonly (4 | 6)[], count: number) {
  const r = rng(seed);
  const values: MmdbValue[] = Array.from({ length: 12 }, (_, i) => ({ id: i, name: `v${i}` }));
  const writer = new MmdbWriter({ databaseType: 'Test' });
  const model = new Model();
  for (let i = 0; i < count; i++) {
    const n = randomNetwork(r, families[r.int(families.length)]!);
    const id = r.int(values.length);
    writer.insert(n, values[id]!);
    model.add(n, id);
  }
  const build = writer.build();
  const reader = read(build.buffer);
  // Probe both ends of every inserted network, the addresses just outside, and random ones.
  const probes: { family: 4 | 6; a: bigint }[] = [];
  for (const x of model.inserts) {
    const max = (1n << BigInt(x.n.family === 4 ? 32 : 128)) - 1n;
    for (const a of [x.first, x.last, x.first - 1n, x.last + 1n])
      if (a >= 0n && a <= max) probes.push({ family: x.n.family, a });
  }
  for (let i = 0; i < 500; i++) {
    const family = families[r.int(families.length)]!;
    probes.push({ family, a: randomNetwork(r, family).address | BigInt(r.int(256)) });
  }
  for (const { family, a } of probes) {
    const ip = formatAddress(family, a);
    const [data, prefix] = lookup(reader, ip);
    const want = model.at(family, a);
    assert.deepEqual(
      data === null ? undefined : (data as { id: number }).id,
      want,
      `record of ${ip}`,
    );
    // The prefix is the exact depth: uniform over /prefix, not over /(prefix-1).
    const bits = family === 4 ? 32 : 128;
    const span = (p: number) => {
      const host = (1n << BigInt(bits - p)) - 1n;
      return [a & ~host, (a & ~host) | host] as const;
    };
    assert.ok(model.uniform(family, ...span(prefix)), `${ip}: /${prefix} is not uniform`);
    // (The root is a node, so depth 1 is as shallow as a lookup gets.)
    if (prefix > 1)
      assert.ok(
        !model.uniform(family, ...span(prefix - 1)),
        `${ip}: /${prefix - 1} is uniform too`,
      );
  }
  return build;
}

describe('MMDB writer round trip', () => {
  it('IPv4 only: random overlapping networks, exact records and prefix depths, IPv4 tree', () => {
    for (const seed of [1, 2, 3]) {
      const build = roundTrip(seed, [4], 1500);
      assert.equal(build.ipVersion, 4);
      assert.equal(read(build.buffer).metadata.ipVersion, 4);
    }
  });

  it('IPv4 and IPv6 mixed: IPv6 tree with IPv4 at ::/96, IPv4 prefixes counted from there', () => {
    for (const seed of [4, 5]) {
      const build = roundTrip(seed, [4, 6], 1500);
      assert.equal(build.ipVersion, 6);
      assert.equal(read(build.buffer).metadata.ipVersion, 6);
    }
  });

  it('a later insert wins within its range, whatever the prefix lengths', () => {
    const w = new MmdbWriter({ databaseType: 'Test' });
    w.insert('10.1.0.0/16', { v: 'specific' });
    w.insert('10.0.0.0/8', { v: 'wide' }); // covers the /16: replaces it
    w.insert('10.2.3.0/24', { v: 'late' }); // more specific and later
    const r = read(w.build().buffer);
    assert.deepEqual(lookup(r, '10.1.2.3'), [{ v: 'wide' }, 15]);
    assert.deepEqual(lookup(r, '10.2.3.4'), [{ v: 'late' }, 24]);
    assert.deepEqual(lookup(r, '11.0.0.1'), [null, 8]);
  });

  it('networks that add up to a larger one read as the larger one', () => {
    const w = new MmdbWriter({ databaseType: 'Test' });
    w.insert('192.0.2.0/25', { v: 1 });
    w.insert('192.0.2.128/25', { v: 1 });
    const r = read(w.build().buffer);
    assert.deepEqual(lookup(r, '192.0.2.200'), [{ v: 1 }, 24]);
  });

  // The root is always a node, so the shallowest depth a lookup can report is 1.
  it('/0 networks in either family', () => {
    const w4 = new MmdbWriter({ databaseType: 'Test' });
    w4.insert('0.0.0.0/0', { all: true });
    const r4 = read(w4.build().buffer);
    assert.deepEqual(lookup(r4, '203.0.113.1'), [{ all: true }, 1]);
    const w6 = new MmdbWriter({ databaseType: 'Test' });
    w6.insert('::/0', { all: 6 });
    w6.insert('192.0.2.0/24', { v4: true });
    const r6 = read(w6.build().buffer);
    // 2001:… leaves the path to ::/96 at its third bit.
    assert.deepEqual(lookup(r6, '2001:db8::1'), [{ all: 6 }, 3]);
    assert.deepEqual(lookup(r6, '192.0.2.1'), [{ v4: true }, 24]);
    assert.deepEqual(lookup(r6, '198.51.100.1')[0], { all: 6 });
  });

  it('an empty database is valid and finds nothing', () => {
    const build = new MmdbWriter({ databaseType: 'Empty' }).build();
    assert.equal(build.nodeCount, 1);
    const r = read(build.buffer);
    assert.deepEqual(lookup(r, '192.0.2.1'), [null, 1]);
  });

  it('refuses IPv6 networks in a forced IPv4 database and networks with host bits', () => {
    const w = new MmdbWriter({ databaseType: 'Test', ipVersion: 4 });
    assert.throws(() => w.insert('2001:db8::/32', { v: 1 }), /IPv6 network in an IPv4 database/);
    assert.throws(() => w.insert('192.0.2.1/24', { v: 1 }), /host bits/);
  });

  it('IPv4 data in a forced IPv6 tree', () => {
    const w = new MmdbWriter({ databaseType: 'Test', ipVersion: 6 });
    w.insert('198.51.100.0/24', { v: 1 });
    const build = w.build();
    assert.equal(build.ipVersion, 6);
    const r = read(build.buffer);
    assert.deepEqual(lookup(r, '198.51.100.9'), [{ v: 1 }, 24]);
    assert.deepEqual(lookup(r, '::c633:6409'), [{ v: 1 }, 120]);
  });
});

describe('MMDB writer data section', () => {
  it('round-trips every type, including each size-field boundary', () => {
    const strings = [0, 1, 28, 29, 284, 285, 65820, 65821, 70000].map((n) => 'x'.repeat(n));
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
    const value = {
      strings,
      utf8: 'Zürich 東京',
      u16: mmdb.uint16(65535),
      u32: 4294967295,
      zero: 0,
      u64: mmdb.uint64(2n ** 64n - 1n),
      u128: mmdb.uint128(2n ** 128n - 1n),
      big: 2n ** 70n,
      i32: -2147483648,
      i32pos: mmdb.int32(5),
      dbl: -23.55,
      whole: mmdb.double(50),
      flt: mmdb.float(1.5),
      yes: true,
      no: false,
      bytes: Uint8Array.from([0, 1, 254, 255]),
      nested: [[], {}, [1, [2, { a: 'b' }]]],
      wide,
    };
    const w = new MmdbWriter({ databaseType: 'Types' });
    w.insert('192.0.2.0/24', value);
    const [got] = lookup(read(w.build().buffer), '192.0.2.1') as [Record<string, unknown>, number];
    assert.deepEqual(got.strings, strings);
    assert.equal(got.utf8, 'Zürich 東京');
    assert.equal(got.u16, 65535);
    assert.equal(got.u32, 4294967295);
    assert.equal(got.zero, 0);
    assert.equal(got.u64, 2n ** 64n - 1n);
    assert.equal(got.u128, 2n ** 128n - 1n);
    assert.equal(got.big, 2n ** 70n);
    assert.equal(got.i32, -2147483648);
    assert.equal(got.i32pos, 5);
    assert.equal(got.dbl, -23.55);
    assert.equal(got.whole, 50);
    assert.equal(got.flt, 1.5);
    assert.equal(got.yes, true);
    assert.equal(got.no, false);
    assert.deepEqual([...(got.bytes as Uint8Array)], [0, 1, 254, 255]);
    assert.deepEqual(got.nested, [[], {}, [1, [2, { a: 'b' }]]]);
    assert.deepEqual(got.wide, wide);
  });

  it('rejects values that do not fit their type', () => {
    const w = new MmdbWriter({ databaseType: 'Test' });
    assert.throws(() => w.insert('192.0.2.0/24', { v: mmdb.uint16(65536) }), /uint16/);
    assert.throws(() => w.insert('192.0.2.0/24', { v: mmdb.uint32(-1) }), /uint32/);
    assert.throws(() => w.insert('192.0.2.0/24', { v: mmdb.int32(2 ** 31) }), /int32/);
  });

  it('stores identical records once, however many networks and objects carry them', () => {
    const w = new MmdbWriter({ databaseType: 'Test' });
    for (let i = 0; i < 256; i++)
      w.insert(`10.${i}.0.0/16`, { country: { iso_code: 'DE' }, continent: { code: 'EU' } });
    for (let i = 0; i < 256; i += 2) w.insert(`172.16.${i}.0/24`, { same: 'record' });
    const build = w.build();
    assert.equal(build.records, 2);
    const single = new MmdbWriter({ databaseType: 'Test' });
    single.insert('10.0.0.0/16', { country: { iso_code: 'DE' }, continent: { code: 'EU' } });
    single.insert('172.16.0.0/24', { same: 'record' });
    assert.equal(build.dataSize, single.build().dataSize);
  });

  it('shares repeated strings and maps inside records through pointers', () => {
    const org = 'An Organisation With A Rather Long Name, Inc.';
    const de = { iso_code: 'DE', names: { en: 'Germany', de: 'Deutschland' } };
    const w = new MmdbWriter({ databaseType: 'Test' });
    for (let i = 0; i < 1000; i++)
      w.insert(`10.${i >> 8}.${i & 255}.0/24`, { asn: 64500 + i, org, country: de });
    const build = w.build();
    assert.equal(build.records, 1000);
    // Unshared, each record would repeat the organisation and the country map.
    const alone = new MmdbWriter({ databaseType: 'Test' });
    alone.insert('10.0.0.0/24', { asn: 64500, org, country: de });
    const oneRecord = alone.build().dataSize;
    assert.ok(build.dataSize < oneRecord * 1000 * 0.3, `${build.dataSize} bytes: not shared`);
    const r = read(build.buffer);
    for (const i of [0, 1, 500, 999])
      assert.deepEqual(lookup(r, `10.${i >> 8}.${i & 255}.7`)[0], {
        asn: 64500 + i,
        org,
        country: de,
      });
  });

  it('merge() adds keys to the records within a network and fills its gaps', () => {
    const w = new MmdbWriter({ databaseType: 'Test' });
    w.insert('198.51.100.0/25', { country: 'DE' });
    w.insert('198.51.100.192/26', { country: 'FR' });
    w.merge('198.51.100.0/24', { asn: 64501 });
    w.merge('198.51.100.200/29', { asn: 64502, country: 'NL' });
    const r = read(w.build().buffer);
    assert.deepEqual(lookup(r, '198.51.100.1'), [{ country: 'DE', asn: 64501 }, 25]);
    assert.deepEqual(lookup(r, '198.51.100.130'), [{ asn: 64501 }, 26]);
    assert.deepEqual(lookup(r, '198.51.100.193'), [{ country: 'FR', asn: 64501 }, 29]);
    assert.deepEqual(lookup(r, '198.51.100.201'), [{ country: 'NL', asn: 64502 }, 29]);
    assert.deepEqual(lookup(r, '198.51.101.1'), [null, 24]);
  });
});

describe('MMDB writer search tree and metadata', () => {
  it('picks the smallest record size that addresses the file', () => {
    assert.equal(recordSizeFor(0), 24);
    assert.equal(recordSizeFor(2 ** 24 - 1), 24);
    assert.equal(recordSizeFor(2 ** 24), 28);
    assert.equal(recordSizeFor(2 ** 28 - 1), 28);
    assert.equal(recordSizeFor(2 ** 28), 32);
    assert.equal(recordSizeFor(2 ** 32 - 1), 32);
    assert.throws(() => recordSizeFor(2 ** 32), /too large/);
  });

  /** A database whose later records sit past 2^24 in the file, so record values need > 24 bits. */
  function large(recordSize?: 24 | 28 | 32) {
    const w = new MmdbWriter({
      databaseType: 'Large',
      ...(recordSize === undefined ? {} : { recordSize }),
    });
    // Reached first (shallow), so written first: pushes every other record past 16 MiB.
    w.insert('0.0.0.0/2', { blob: new Uint8Array(16_800_000) });
    for (let i = 0; i < 64; i++) w.insert(`192.168.${i}.0/24`, { i, name: `net-${i}` });
    return w;
  }

  it('28-bit records when the file outgrows 24 bits, and 32-bit records on request', () => {
    for (const size of [undefined, 32] as const) {
      const build = large(size).build();
      assert.equal(build.recordSize, size ?? 28);
      const r = read(build.buffer);
      assert.equal(r.metadata.recordSize, size ?? 28);
      for (const i of [0, 17, 63])
        assert.deepEqual(lookup(r, `192.168.${i}.9`), [{ i, name: `net-${i}` }, 24]);
      assert.equal((lookup(r, '1.2.3.4')[0] as { blob: Uint8Array }).blob.length, 16_800_000);
      assert.deepEqual(lookup(r, '192.169.0.1'), [null, 16]);
    }
    assert.throws(() => large(24).build(), /24-bit records cannot address/);
  });

  it('forced record sizes read back the same', () => {
    for (const recordSize of [24, 28, 32] as const) {
      const w = new MmdbWriter({ databaseType: 'Test', recordSize });
      w.insert('2001:db8::/32', { v: 6 });
      w.insert('192.0.2.0/24', { v: 4 });
      const r = read(w.build().buffer);
      assert.equal(r.metadata.recordSize, recordSize);
      assert.deepEqual(lookup(r, '2001:db8:1::1'), [{ v: 6 }, 32]);
      assert.deepEqual(lookup(r, '192.0.2.7'), [{ v: 4 }, 24]);
    }
  });

  it('writes the metadata map', () => {
    const w = new MmdbWriter({
      databaseType: 'Cirrus-Test',
      description: { en: 'test database', de: 'Testdatenbank' },
      languages: ['en', 'de'],
      buildEpoch: 1_767_225_600,
    });
    w.insert(parseNetwork('192.0.2.0/24'), { v: 1 });
    const build = w.build();
    const m = read(build.buffer).metadata;
    assert.equal(m.binaryFormatMajorVersion, 2);
    assert.equal(m.binaryFormatMinorVersion, 0);
    assert.equal(m.databaseType, 'Cirrus-Test');
    assert.deepEqual(m.description, { en: 'test database', de: 'Testdatenbank' });
    assert.deepEqual(m.languages, ['en', 'de']);
    assert.equal(m.buildEpoch.getTime(), 1_767_225_600_000);
    assert.equal(m.ipVersion, 4);
    assert.equal(m.nodeCount, build.nodeCount);
    assert.equal(m.recordSize, 24);
  });
});
