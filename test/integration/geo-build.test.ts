// `cirrus geo build` as an operator runs it, checked with the real `mmdblookup`
// (libmaxminddb, Debian mmdb-bin) and the `maxmind` package: small CSVs in every row
// format, the errors, all three record sizes and the test fixtures through libmaxminddb,
// and a real ip-location-db country CSV, compared with the CSV itself row by row.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Reader, type Response } from 'maxmind';
import { parse as parseYaml } from 'yaml';
import { finishConfig } from '../../src/config/load.js';
import { formatAddress, parseAddress, parseNetwork } from '../../src/geo/tools/csv-ranges.js';
import { MmdbWriter } from '../../src/geo/tools/mmdb-writer.js';
import { GeoIp } from '../../src/geo/geoip.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { silentLogger } from '../../src/lib/logger.js';
import { FIXTURE_NETWORKS, writeGeoFixtures } from '../fixtures/geo/generate.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ASN_COUNTRY = join(REPO, 'node_modules/@ip-location-db/asn-country');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', ...args],
      { cwd: REPO, maxBuffer: 1 << 24, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** One value by path with the real mmdblookup; undefined when there is no entry or no such key. */
function mmdblookup(file: string, ip: string, ...path: string[]): string | number | undefined {
  const r = spawnSync('mmdblookup', ['--file', file, '--ip', ip, ...path], { encoding: 'utf8' });
  if (r.error)
    throw new Error(`mmdblookup is not installed (Debian package mmdb-bin): ${r.error.message}`);
  const out = r.stdout + r.stderr;
  if (/Could not find an entry|lookup path does not match/.test(out)) return undefined;
  if (/Error|Can't open/i.test(out)) throw new Error(`mmdblookup ${file} ${ip}: ${out}`);
  const s = /^\s*"(.*)" <utf8_string>/m.exec(out);
  if (s) return s[1];
  const n = /^\s*(-?[\d.]+) <(?:uint16|uint32|int32|double)>/m.exec(out);
  if (n) return Number(n[1]);
  throw new Error(`mmdblookup ${file} ${ip} ${path.join(' ')}: unexpected output\n${out}`);
}

function metadata(file: string): string {
  return spawnSync('mmdblookup', ['--verbose', '--file', file, '--ip', '127.0.0.1'], {
    encoding: 'utf8',
  }).stdout;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cirrus-geo-build-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('cirrus geo build on small CSVs', () => {
  it('compiles country and ASN rows in every format into one GeoLite2-shaped database', async () => {
    const country = join(dir, 'country.csv');
    writeFileSync(
      country,
      [
        'first,last,country_code',
        '198.51.100.0,198.51.100.255,DE',
        '203.0.113.0,203.0.113.255,HK',
        '192.0.2.0/25,US',
        '2001:db8:de::,2001:db8:de:ffff:ffff:ffff:ffff:ffff,DE',
        '2001:db8:4b::/48,HK',
      ].join('\n'),
    );
    const asn = join(dir, 'asn.csv');
    writeFileSync(
      asn,
      [
        '198.51.100.0,198.51.100.127,64501,"Example DE, GmbH"',
        '203.0.113.0/24,AS64502,Example HK',
        '100.64.0.0,100.127.255.255,64504,Example JP',
        '2001:db8:de::/48,64501,"Example DE, GmbH"',
      ].join('\n'),
    );
    const out = join(dir, 'both.mmdb');
    const r = await cli(['geo', 'build', '--country', country, '--asn', asn, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /both\.mmdb: Cirrus-Country-ASN, 9 rows, 9 networks, \d+ records, IPv6 tree of \d+ nodes \(24-bit records\), \d+ bytes/,
    );
    assert.equal(statSync(out).size, Number(/(\d+) bytes/.exec(r.stdout)?.[1]));

    const want: [
      string,
      string | undefined,
      string | undefined,
      number | undefined,
      string | undefined,
    ][] = [
      ['198.51.100.1', 'DE', 'EU', 64501, 'Example DE, GmbH'],
      ['198.51.100.200', 'DE', 'EU', undefined, undefined],
      ['203.0.113.77', 'HK', 'AS', 64502, 'Example HK'],
      ['192.0.2.1', 'US', 'NA', undefined, undefined],
      ['192.0.2.200', undefined, undefined, undefined, undefined],
      ['100.100.1.1', undefined, undefined, 64504, 'Example JP'],
      ['2001:db8:de:1::1', 'DE', 'EU', 64501, 'Example DE, GmbH'],
      ['2001:db8:4b::1', 'HK', 'AS', undefined, undefined],
      ['2001:db8:b2::1', undefined, undefined, undefined, undefined],
    ];
    const reader = new Reader<Response>(readFileSync(out));
    for (const [ip, cc, continent, asnNo, org] of want) {
      assert.equal(mmdblookup(out, ip, 'country', 'iso_code'), cc, `mmdblookup ${ip}`);
      assert.equal(mmdblookup(out, ip, 'continent', 'code'), continent, `mmdblookup ${ip}`);
      assert.equal(mmdblookup(out, ip, 'autonomous_system_number'), asnNo, `mmdblookup ${ip}`);
      assert.equal(mmdblookup(out, ip, 'autonomous_system_organization'), org, `mmdblookup ${ip}`);
      const rec = reader.get(ip) as {
        country?: { iso_code: string };
        continent?: { code: string };
        autonomous_system_number?: number;
        autonomous_system_organization?: string;
      } | null;
      assert.equal(rec?.country?.iso_code, cc, `maxmind ${ip}`);
      assert.equal(rec?.continent?.code, continent, `maxmind ${ip}`);
      assert.equal(rec?.autonomous_system_number, asnNo, `maxmind ${ip}`);
      assert.equal(rec?.autonomous_system_organization, org, `maxmind ${ip}`);
    }
    const meta = metadata(out);
    assert.match(meta, /Binary format: 2\.0/);
    assert.match(meta, /Type:\s+Cirrus-Country-ASN/);
    assert.match(meta, /IP version:\s+IPv6/);
  });

  it('an IPv4-only ASN build gets an IPv4 tree and the type given', async () => {
    const asn = join(dir, 'asn4.csv');
    writeFileSync(asn, '10.0.0.0/8,64505,Example BR\n');
    const out = join(dir, 'asn4.mmdb');
    const r = await cli(['geo', 'build', '--asn', asn, '--out', out, '--type', 'Cirrus-Geo']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Cirrus-Geo, 1 rows, 1 networks, 1 records, IPv4 tree/);
    assert.equal(mmdblookup(out, '10.20.30.40', 'autonomous_system_number'), 64505);
    assert.match(metadata(out), /IP version:\s+IPv4/);
  });

  it('fails naming the file and line of a bad row, and writes nothing', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, '1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.0.255,CN\n');
    const out = join(dir, 'bad.mmdb');
    const r = await cli(['geo', 'build', '--country', bad, '--out', out]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cirrus: .*bad\.csv:2: range 1\.0\.1\.0–1\.0\.0\.255 ends before it starts/,
    );
    assert.throws(() => statSync(out), /ENOENT/);
  });

  it('explains missing arguments and files', async () => {
    const x = join(dir, 'x.mmdb');
    const [none, noOut, bare, missing] = await Promise.all([
      cli(['geo', 'build', '--out', x]),
      cli(['geo', 'build', '--country', 'x.csv']),
      cli(['geo', 'build', '--country', 'a.csv', 'b.csv', '--out', x]),
      cli(['geo', 'build', '--country', join(dir, 'nope.csv'), '--out', x]),
    ]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /at least one --country or --asn/);
    assert.match(noOut.stderr, /needs --out/);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /unexpected b\.csv \(give --country or --asn before each CSV\)/);
    assert.match(missing.stderr, /cannot read .*nope\.csv: ENOENT/);
  });

  it('is listed in --help', async () => {
    const r = await cli(['--help']);
    assert.match(r.stdout, /cirrus geo build --country CSV/);
  });
});

describe('geo/README.md', () => {
  const readme = () => readFileSync(join(REPO, 'geo/README.md'), 'utf8');

  /** The README.md section that points here. */
  const mainSection = () => {
    const text = readFileSync(join(REPO, 'README.md'), 'utf8');
    const start = text.indexOf('## GeoIP databases\n');
    assert.ok(start >= 0, 'README.md has no GeoIP databases section');
    return text.slice(start, text.indexOf('\n## ', start + 1));
  };

  it('its config block, and the one in README.md, are valid geo sections', () => {
    for (const [where, text] of [
      ['geo/README.md', readme()],
      ['README.md', mainSection()],
    ] as const) {
      const block = /```yaml\n([\s\S]*?)```/.exec(text)?.[1];
      assert.ok(block, `no yaml block in ${where}`);
      const config = finishConfig(parseYaml(block), where);
      assert.equal(config.geo.databases.length, 2);
      assert.equal(config.geo.watchIntervalMs, 2000);
    }
  });

  it('its example build prints what it shows, and mmdblookup answers as shown', async () => {
    const shown = /^(data\/example-geo\.mmdb: .*)$/m.exec(readme())?.[1];
    assert.ok(shown, 'no example output line');
    assert.ok(mainSection().includes(`# → ${shown}`), 'README.md shows another output');
    const out = join(dir, 'data', 'example-geo.mmdb');
    const r = await cli([
      'geo',
      'build',
      '--country',
      join(REPO, 'geo/example-country.csv'),
      '--asn',
      join(REPO, 'geo/example-asn.csv'),
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const timing = / [\d.]+ s$/;
    assert.equal(
      r.stdout.trim().replace(out, 'data/example-geo.mmdb').replace(timing, ''),
      shown.replace(timing, ''),
    );
    assert.equal(
      mmdblookup(out, '192.0.2.7', 'autonomous_system_organization'),
      'Example US, Inc.',
    );
    for (const n of FIXTURE_NETWORKS) {
      const net = parseNetwork(n.network);
      const ip = formatAddress(net.family, net.address + 1n);
      assert.equal(mmdblookup(out, ip, 'country', 'iso_code'), n.country, ip);
    }
  });
});

describe('libmaxminddb reads what the writer writes', () => {
  it('the test fixtures, in all four shapes', () => {
    const fx = writeGeoFixtures(dir);
    for (const n of FIXTURE_NETWORKS) {
      const net = parseNetwork(n.network);
      const ip = formatAddress(net.family, net.address + 1n);
      assert.equal(mmdblookup(fx.country, ip, 'country', 'iso_code'), n.country, ip);
      assert.equal(mmdblookup(fx.country, ip, 'continent', 'code'), n.continent, ip);
      assert.equal(mmdblookup(fx.city, ip, 'location', 'latitude'), n.lat, ip);
      assert.equal(mmdblookup(fx.city, ip, 'location', 'longitude'), n.lon, ip);
      assert.equal(mmdblookup(fx.asn, ip, 'autonomous_system_number'), n.asn, ip);
      assert.equal(mmdblookup(fx.asn, ip, 'autonomous_system_organization'), n.asOrg, ip);
      assert.equal(mmdblookup(fx.countryCode, ip, 'country_code'), n.country, ip);
      if (!ip.includes(':'))
        assert.equal(mmdblookup(fx.countryCodeIpv4, ip, 'country_code'), n.country, ip);
    }
    assert.equal(mmdblookup(fx.city, '192.0.2.200', 'country', 'iso_code'), undefined);
    assert.match(metadata(fx.countryCodeIpv4), /IP version:\s+IPv4/);
  });

  it('24-, 28- and 32-bit records, with record values past 2^24', () => {
    for (const recordSize of [24, 28, 32] as const) {
      const w = new MmdbWriter({ databaseType: 'Test', recordSize });
      // Written first, so the other records sit past 16 MiB (not for 24 bits, which cannot).
      if (recordSize !== 24) w.insert('0.0.0.0/2', { blob: 'x'.repeat(16_800_000) });
      for (let i = 0; i < 32; i++) w.insert(`192.168.${i}.0/24`, { name: `net-${i}` });
      w.insert('2001:db8::/32', { name: 'v6' });
      const file = join(dir, `size-${recordSize}.mmdb`);
      writeFileSync(file, w.build().buffer);
      assert.match(metadata(file), new RegExp(`Record size:\\s+${recordSize} bits`));
      for (const i of [0, 13, 31])
        assert.equal(mmdblookup(file, `192.168.${i}.5`, 'name'), `net-${i}`);
      assert.equal(mmdblookup(file, '2001:db8:1::1', 'name'), 'v6');
      assert.equal(mmdblookup(file, '192.169.0.1', 'name'), undefined);
      rmSync(file);
    }
  });
});

describe('cirrus geo build on a real ip-location-db CSV (@ip-location-db/asn-country)', () => {
  const csvs = ['asn-country-ipv4.csv', 'asn-country-ipv6.csv'].map((f) => join(ASN_COUNTRY, f));
  const out = () => join(dir, 'asn-country.mmdb');
  let rows: {
    family: 4 | 6;
    first: bigint;
    last: bigint;
    firstText: string;
    lastText: string;
    cc: string;
  }[];

  before(async () => {
    rows = [];
    for (const file of csvs) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        const [firstText = '', lastText = '', cc = ''] = line.split(',');
        const a = parseAddress(firstText)!;
        rows.push({
          family: a.family,
          first: a.value,
          last: parseAddress(lastText)!.value,
          firstText,
          lastText,
          cc,
        });
      }
    }
  });

  it('builds the whole file, and every sampled address reads back as its row says', async (t) => {
    const started = performance.now();
    const r = await cli(['geo', 'build', ...csvs.flatMap((f) => ['--country', f]), '--out', out()]);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.code, 0, r.stderr);
    const networks = Number(/(\d+) networks/.exec(r.stdout)?.[1]);
    t.diagnostic(
      `${r.stdout.trim()} (CLI wall time ${seconds.toFixed(2)} s, ${Math.round(networks / seconds)} networks/s)`,
    );
    assert.match(r.stdout, new RegExp(`Cirrus-Country, ${rows.length} rows`));

    // The rows are sorted and disjoint, so each address has exactly one expected country.
    for (let i = 1; i < rows.length; i++) {
      const [p, c] = [rows[i - 1]!, rows[i]!];
      if (p.family === c.family) assert.ok(c.first > p.last, `rows ${i} and ${i + 1} overlap`);
    }

    const reader = new Reader<Response>(readFileSync(out()));
    const country = (ip: string) =>
      (reader.get(ip) as { country?: { iso_code: string } } | null)?.country?.iso_code;
    let seed = 3;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const sample = Array.from({ length: 3000 }, () => rows[Math.floor(rand() * rows.length)]!);
    for (const row of sample) {
      const inside = row.first + BigInt(Math.floor(rand() * Number(row.last - row.first + 1n)));
      for (const ip of [row.firstText, row.lastText, formatAddress(row.family, inside)])
        assert.equal(country(ip), row.cc, `${ip} (row ${row.firstText}-${row.lastText})`);
    }
    // Gaps between rows have no record.
    let gaps = 0;
    for (let i = 1; i < rows.length && gaps < 500; i++) {
      const [p, c] = [rows[i - 1]!, rows[i]!];
      if (p.family === c.family && c.first > p.last + 1n) {
        assert.equal(country(formatAddress(p.family, p.last + 1n)), undefined);
        gaps++;
      }
    }
    assert.ok(gaps > 100, `only ${gaps} gaps checked`);

    // And libmaxminddb agrees on a smaller sample.
    for (const row of sample.slice(0, 60)) {
      assert.equal(mmdblookup(out(), row.firstText, 'country', 'iso_code'), row.cc, row.firstText);
      assert.equal(mmdblookup(out(), row.lastText, 'country', 'iso_code'), row.cc, row.lastText);
    }
  });

  it('the reader serves it with continents from the country table', async () => {
    const geo = new GeoIp({
      config: { databases: [out()], watchIntervalMs: 60_000 },
      logger: silentLogger(),
      registry: createRegistry(false),
    });
    await geo.start();
    try {
      for (const row of rows.slice(0, 2000).filter((_, i) => i % 100 === 0)) {
        const got = geo.lookup(row.firstText);
        assert.equal(got.country, row.cc, row.firstText);
        assert.ok(got.continent, `no continent for ${row.cc}`);
        assert.ok(got.geoPrefix > 0 && got.geoPrefix <= (row.family === 4 ? 32 : 128));
      }
    } finally {
      await geo.stop();
    }
  });
});
