// The GeoIP reader: each record schema on the generated fixtures, how several files
// combine, prefix depths, real ip-location-db databases, and the lifecycle with hot
// reload (a replaced file is taken up, a bad one is counted and the old data kept).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reader, type Response } from 'maxmind';
import type { Registry } from 'prom-client';
import { GeoIp } from '../../src/geo/geoip.js';
import type { GeoRecord } from '../../src/geo/geo-record.js';
import { continentOf } from '../../src/geo/continents.js';
import { formatAddress, networkRange, parseNetwork } from '../../src/geo/tools/csv-ranges.js';
import { MmdbWriter, mmdb, type MmdbValue } from '../../src/geo/tools/mmdb-writer.js';
import { writeFileAtomic } from '../../src/geo/tools/build.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { silentLogger } from '../../src/lib/logger.js';
import { ConfigError } from '../../src/lib/errors.js';
import { FIXTURE_NETWORKS, writeGeoFixtures, type GeoFixtures } from '../fixtures/geo/generate.js';

let dir: string;
let fx: GeoFixtures;
const started: GeoIp[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cirrus-geoip-'));
  fx = writeGeoFixtures(dir);
});
after(async () => {
  for (const g of started) await g.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(databases: string[], watchIntervalMs = 3_600_000) {
  const registry = createRegistry(false);
  const geo = new GeoIp({
    config: { databases, watchIntervalMs },
    logger: silentLogger(),
    registry,
  });
  started.push(geo);
  await geo.start();
  return { geo, registry };
}

/** A database of our own with `type` and the given network → record pairs. */
function custom(name: string, type: string, entries: [string, MmdbValue][]): string {
  const w = new MmdbWriter({ databaseType: type });
  for (const [n, v] of entries) w.insert(n, v);
  const path = join(dir, name);
  writeFileSync(path, w.build().buffer);
  return path;
}

/** First, middle and last address of a network. */
function addresses(network: string): string[] {
  const n = parseNetwork(network);
  const { first, last } = networkRange(n);
  return [first, (first + last) / 2n, last].map((a) => formatAddress(n.family, a));
}

const prefixOf = (network: string) => parseNetwork(network).prefix;

describe('GeoIp record schemas', () => {
  const cases: {
    name: string;
    file: () => string;
    want: (n: (typeof FIXTURE_NETWORKS)[number]) => Omit<GeoRecord, 'geoPrefix' | 'asnPrefix'>;
    location: boolean;
    asn: boolean;
  }[] = [
    {
      name: 'GeoLite2-Country',
      file: () => fx.country,
      want: (n) => ({ country: n.country, continent: n.continent }),
      location: true,
      asn: false,
    },
    {
      name: 'GeoLite2-City',
      file: () => fx.city,
      want: (n) => ({ country: n.country, continent: n.continent, lat: n.lat, lon: n.lon }),
      location: true,
      asn: false,
    },
    {
      name: 'GeoLite2-ASN',
      file: () => fx.asn,
      want: (n) => ({ asn: n.asn, asOrg: n.asOrg }),
      location: false,
      asn: true,
    },
    {
      name: 'country_code (continent from the country table)',
      file: () => fx.countryCode,
      want: (n) => ({ country: n.country, continent: n.continent }),
      location: true,
      asn: false,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: every fixture network, its fields and its prefix`, async () => {
      const { geo } = await open([c.file()]);
      for (const n of FIXTURE_NETWORKS) {
        for (const ip of addresses(n.network)) {
          const p = prefixOf(n.network);
          assert.deepEqual(
            geo.lookup(ip),
            { geoPrefix: c.location ? p : 0, asnPrefix: c.asn ? p : 0, ...c.want(n) },
            `${c.name} ${ip}`,
          );
        }
      }
    });
  }

  it('an address with no record: nothing, and the depth of the empty network', async () => {
    const { geo } = await open([fx.city, fx.asn]);
    // 192.0.2.128/25 is the empty half beside 192.0.2.0/25.
    assert.deepEqual(geo.lookup('192.0.2.200'), { geoPrefix: 25, asnPrefix: 25 });
    assert.deepEqual(geo.lookup('192.0.2.100').country, 'US');
    const outside = geo.lookup('8.8.8.8');
    assert.equal(outside.country, undefined);
    assert.ok(outside.geoPrefix > 0 && outside.geoPrefix < 8, `${outside.geoPrefix}`);
  });

  it('IPv4-mapped IPv6 is IPv4; unparsable text and no databases give an empty record', async () => {
    const { geo } = await open([fx.country]);
    assert.deepEqual(geo.lookup('::ffff:198.51.100.9'), geo.lookup('198.51.100.9'));
    assert.equal(geo.lookup('::FFFF:198.51.100.9').country, 'DE');
    for (const bad of ['', 'nonsense', '198.51.100', '2001:db8::/32', '1.2.3.4%eth0'])
      assert.deepEqual(geo.lookup(bad), { geoPrefix: 0, asnPrefix: 0 }, bad);
    const { geo: none } = await open([]);
    assert.deepEqual(none.lookup('198.51.100.9'), { geoPrefix: 0, asnPrefix: 0 });
  });

  it('an IPv4-only tree answers IPv4 and says nothing about IPv6', async () => {
    const { geo } = await open([fx.countryCodeIpv4]);
    assert.equal(geo.databases()[0]?.ipVersion, 4);
    assert.deepEqual(geo.lookup('203.0.113.1'), {
      geoPrefix: 24,
      asnPrefix: 0,
      country: 'HK',
      continent: 'AS',
    });
    assert.deepEqual(geo.lookup('2001:db8:de::1'), { geoPrefix: 0, asnPrefix: 0 });
  });
});

describe('GeoIp with several files', () => {
  it('earlier files win per field group; the continent follows the country', async () => {
    const override = custom('override-city.mmdb', 'Test-City', [
      [
        '198.51.100.0/25',
        { country: { iso_code: 'CA' }, location: { latitude: 45.5, longitude: -73.6 } },
      ],
    ]);
    const { geo } = await open([override, fx.city]);
    assert.deepEqual(geo.lookup('198.51.100.1'), {
      geoPrefix: 25,
      asnPrefix: 0,
      country: 'CA',
      continent: 'NA', // not the EU of the City record below it
      lat: 45.5,
      lon: -73.6,
    });
    // Outside the override's /25 the City database answers; the override's empty /25
    // still bounds the prefix.
    assert.deepEqual(geo.lookup('198.51.100.200'), {
      geoPrefix: 25,
      asnPrefix: 0,
      country: 'DE',
      continent: 'EU',
      lat: 50.11,
      lon: 8.68,
    });
    const { geo: reversed } = await open([fx.city, override]);
    assert.equal(reversed.lookup('198.51.100.1').country, 'DE');
    assert.equal(reversed.lookup('198.51.100.1').lat, 50.11);
  });

  it('a country-only file and a City file: country from the first, coordinates from the second', async () => {
    const override = custom('override-country.mmdb', 'Test-Country', [
      ['203.0.113.0/24', { country_code: 'SG' }],
    ]);
    const { geo } = await open([override, fx.city]);
    assert.deepEqual(geo.lookup('203.0.113.5'), {
      geoPrefix: 24,
      asnPrefix: 0,
      country: 'SG',
      continent: 'AS',
      lat: 22.32,
      lon: 114.17,
    });
  });

  it('location and ASN prefixes come from the files that can answer them', async () => {
    const asnOverride = custom('override-asn.mmdb', 'Test-ASN', [
      [
        '198.51.100.0/26',
        { autonomous_system_number: 65000, autonomous_system_organization: 'Override' },
      ],
    ]);
    const { geo } = await open([fx.country, asnOverride, fx.asn]);
    assert.deepEqual(geo.lookup('198.51.100.1'), {
      geoPrefix: 24,
      asnPrefix: 26,
      country: 'DE',
      continent: 'EU',
      asn: 65000,
      asOrg: 'Override',
    });
    assert.deepEqual(geo.lookup('198.51.100.100'), {
      geoPrefix: 24,
      asnPrefix: 26,
      country: 'DE',
      continent: 'EU',
      asn: 64501,
      asOrg: 'Example DE',
    });
    // A record that carries a group bounds its prefix even where the type name denies it.
    const misnamed = custom('misnamed.mmdb', 'GeoLite2-Country', [
      ['198.51.100.0/27', { autonomous_system_number: 65001 }],
    ]);
    const { geo: named } = await open([misnamed, fx.country]);
    assert.deepEqual(named.lookup('198.51.100.1'), {
      geoPrefix: 27,
      asnPrefix: 27,
      country: 'DE',
      continent: 'EU',
      asn: 65001,
    });
    // A file of unknown type may hold either, so it bounds both prefixes.
    const unknown = custom('unknown.mmdb', 'Something-Else', [
      ['198.51.100.0/28', { country_code: 'NL' }],
    ]);
    const { geo: both } = await open([unknown, fx.asn]);
    assert.deepEqual(both.lookup('198.51.100.1'), {
      geoPrefix: 28,
      asnPrefix: 28,
      country: 'NL',
      continent: 'EU',
      asn: 64501,
      asOrg: 'Example DE',
    });
  });

  it('reads GeoIP2 variants: registered_country, traits ASN, numbers as text, uint64', async () => {
    const odd = custom('odd.mmdb', 'Test-Enterprise', [
      ['192.0.2.0/24', { registered_country: { iso_code: 'fr' } }],
      [
        '198.51.100.0/24',
        {
          traits: {
            autonomous_system_number: mmdb.uint64(64999),
            autonomous_system_organization: 'T',
          },
          latitude: '12.5',
          longitude: '-3.25',
        },
      ],
    ]);
    const { geo } = await open([odd]);
    assert.deepEqual(geo.lookup('192.0.2.1'), {
      geoPrefix: 24,
      asnPrefix: 24,
      country: 'FR',
      continent: 'EU',
    });
    assert.deepEqual(geo.lookup('198.51.100.1'), {
      geoPrefix: 24,
      asnPrefix: 24,
      lat: 12.5,
      lon: -3.25,
      asn: 64999,
      asOrg: 'T',
    });
  });
});

describe('GeoIp on real ip-location-db databases', () => {
  const pkg = fileURLToPath(
    new URL('../../node_modules/@ip-location-db/geo-whois-asn-country-mmdb/', import.meta.url),
  );

  it('country_code records in IPv4-only and dual trees agree with the raw reader', async () => {
    const v4 = join(pkg, 'geo-whois-asn-country-ipv4.mmdb');
    const all = join(pkg, 'geo-whois-asn-country.mmdb');
    const { geo } = await open([v4]);
    const { geo: dual } = await open([all]);
    assert.equal(geo.databases()[0]?.ipVersion, 4);
    assert.equal(dual.databases()[0]?.ipVersion, 6);
    const raw4 = new Reader<Response>(readFileSync(v4));
    const rawAll = new Reader<Response>(readFileSync(all));
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let found = 0;
    for (let i = 0; i < 2000; i++) {
      const v6 = i % 4 === 0;
      const ip = v6
        ? formatAddress(6, (0x2000n << 112n) | (BigInt(Math.floor(rand() * 2 ** 31)) << 81n))
        : formatAddress(4, BigInt(Math.floor(rand() * 2 ** 32)));
      for (const [g, raw] of v6
        ? [[dual, rawAll] as const]
        : [[geo, raw4] as const, [dual, rawAll] as const]) {
        const [data, prefix] = raw.getWithPrefixLength(ip) as [
          { country_code?: string } | null,
          number,
        ];
        const got = g.lookup(ip);
        assert.equal(got.country, data?.country_code, ip);
        assert.equal(got.geoPrefix, prefix, ip);
        assert.equal(got.asnPrefix, 0, ip); // a "country …" database answers no ASN
        if (got.country) {
          found++;
          assert.equal(got.continent, continentOf(got.country), ip);
        }
      }
    }
    assert.ok(found > 1000, `only ${found} addresses found`);
    assert.deepEqual(geo.lookup('2001:200::1'), { geoPrefix: 0, asnPrefix: 0 });
  });
});

/** Current value of a labelled metric. */
async function metric(registry: Registry, name: string, labels: Record<string, string>) {
  const m = registry.getSingleMetric(name);
  if (!m) return undefined;
  const { values } = await m.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('GeoIp lifecycle', () => {
  it('start fails naming a missing, garbage, compressed or truncated file; stop is always safe', async () => {
    const garbage = join(dir, 'garbage.mmdb');
    writeFileSync(garbage, 'this is not a database\n'.repeat(100));
    const gz = join(dir, 'gz.mmdb');
    writeFileSync(gz, gzipSync(readFileSync(fx.country)));
    const truncated = join(dir, 'truncated.mmdb');
    const whole = readFileSync(fx.city);
    writeFileSync(truncated, whole.subarray(0, whole.length - 40));
    const cases: [string, RegExp][] = [
      [join(dir, 'missing.mmdb'), /missing\.mmdb: ENOENT/],
      [garbage, /garbage\.mmdb: not a MaxMind DB file/],
      [gz, /gz\.mmdb: the file is gzip-compressed/],
      [truncated, /truncated\.mmdb: /],
    ];
    for (const [file, re] of cases) {
      const geo = new GeoIp({
        config: { databases: [fx.country, file], watchIntervalMs: 100 },
        logger: silentLogger(),
        registry: createRegistry(false),
      });
      await assert.rejects(geo.start(), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, re);
        assert.equal(err.field, 'geo.databases[1]');
        return true;
      });
      await geo.stop();
      await geo.stop();
      assert.deepEqual(geo.lookup('198.51.100.1'), { geoPrefix: 0, asnPrefix: 0 });
    }
  });

  it('a replaced file is taken up; a bad replacement is counted and the old data keeps serving', async () => {
    const file = join(dir, 'live.mmdb');
    copyFileSync(fx.country, file);
    const { geo, registry } = await open([file], 100);
    const reloads = (result: string) =>
      metric(registry, 'cirrus_geoip_reloads_total', { database: 'live.mmdb', result });
    assert.equal(geo.lookup('198.51.100.1').country, 'DE');
    assert.equal(
      await metric(registry, 'cirrus_geoip_build_epoch_seconds', { database: 'live.mmdb' }),
      1_767_225_600,
    );
    assert.equal(await reloads('success'), 0);
    assert.equal(await reloads('failed'), 0);

    // An operator's atomic replacement (write aside, rename), picked up by the watcher.
    const next = new MmdbWriter({ databaseType: 'GeoLite2-Country', buildEpoch: 1_770_000_000 });
    next.insert('198.51.100.0/24', { country: { iso_code: 'FR' } });
    await writeFileAtomic(file, next.build().buffer);
    await until('the new file', () => geo.lookup('198.51.100.1').country === 'FR');
    assert.equal(geo.lookup('198.51.100.1').continent, 'EU');
    assert.equal(await reloads('success'), 1);
    assert.equal(
      await metric(registry, 'cirrus_geoip_build_epoch_seconds', { database: 'live.mmdb' }),
      1_770_000_000,
    );

    // Garbage written in place: rejected once, counted, FR keeps serving.
    writeFileSync(file, 'garbage');
    await until('the failure to be counted', async () => (await reloads('failed')) === 1);
    assert.equal(geo.lookup('198.51.100.1').country, 'FR');
    await new Promise((r) => setTimeout(r, 350)); // several more checks of the same bad file
    assert.equal(await reloads('failed'), 1);

    // Half a database: rejected as well.
    const half = readFileSync(fx.city);
    writeFileSync(file, half.subarray(0, half.length >> 1));
    await until('the second failure', async () => (await reloads('failed')) === 2);
    assert.equal(geo.lookup('198.51.100.1').country, 'FR');

    // Gone: said once, still serving.
    rmSync(file);
    await until('the missing file', async () => (await reloads('failed')) === 3);
    assert.equal(geo.lookup('198.51.100.1').country, 'FR');

    // A good file again.
    copyFileSync(fx.country, file);
    await until('the good file', () => geo.lookup('198.51.100.1').country === 'DE');
    assert.equal(await reloads('success'), 2);
    assert.equal(await reloads('failed'), 3);
    await geo.stop();
    await geo.stop();
  });

  it('check() can be called directly and does nothing when nothing changed', async () => {
    const file = join(dir, 'direct.mmdb');
    copyFileSync(fx.asn, file);
    const { geo, registry } = await open([file]);
    await geo.check();
    assert.equal(
      await metric(registry, 'cirrus_geoip_reloads_total', {
        database: 'direct.mmdb',
        result: 'success',
      }),
      0,
    );
    copyFileSync(fx.city, file);
    await geo.check();
    assert.equal(geo.lookup('198.51.100.1').country, 'DE');
    assert.equal(geo.lookup('198.51.100.1').asn, undefined);
  });
});
