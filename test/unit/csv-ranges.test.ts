// CSV ranges → CIDR networks: address parsing, the minimal split of a range, the row
// formats of the free GeoIP CSVs, errors that name file and line; the continent table.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import {
  formatNetwork,
  networkRange,
  parseAddress,
  parseAsnCsv,
  parseCountryCsv,
  parseNetwork,
  rangeToCidrs,
  splitCsvLine,
} from '../../src/geo/tools/csv-ranges.js';
import { continentOf, knownCountries } from '../../src/geo/continents.js';

const cidrs = (first: string, last: string) => {
  const a = parseAddress(first)!;
  const b = parseAddress(last)!;
  return rangeToCidrs(a.family, a.value, b.value).map(formatNetwork);
};

describe('addresses and networks', () => {
  it('parses and formats both families', () => {
    for (const [text, canonical] of [
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['192.0.2.0/24', '192.0.2.0/24'],
      ['192.0.2.7', '192.0.2.7/32'],
      ['2001:DB8::/32', '2001:db8::/32'],
      ['::/0', '::/0'],
      ['::ffff:192.0.2.0/120', '::ffff:c000:200/120'],
      ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
    ])
      assert.equal(formatNetwork(parseNetwork(text!)), canonical);
  });

  it('refuses what is not an address or network', () => {
    for (const bad of [
      '192.0.2.1/24',
      '192.0.2.0/33',
      '2001:db8::/129',
      '192.0.2/24',
      'x/8',
      '1.2.3.4/-1',
    ])
      assert.throws(() => parseNetwork(bad), Error, bad);
    for (const bad of [
      '01.2.3.4',
      '256.0.0.1',
      '1.2.3',
      '1::2::3',
      '12345::',
      ':1::',
      '1:2:3:4:5:6:7:8:9',
      '',
    ])
      assert.equal(parseAddress(bad), undefined, bad);
  });

  it('gives the first and last address of a network', () => {
    const r = networkRange(parseNetwork('198.51.100.0/24'));
    assert.equal(r.first, 0xc6336400n);
    assert.equal(r.last, 0xc63364ffn);
  });
});

describe('range to CIDR', () => {
  const table: [string, string, string[]][] = [
    ['1.0.0.0', '1.0.0.255', ['1.0.0.0/24']],
    ['1.0.1.0', '1.0.3.255', ['1.0.1.0/24', '1.0.2.0/23']],
    ['192.0.2.5', '192.0.2.10', ['192.0.2.5/32', '192.0.2.6/31', '192.0.2.8/31', '192.0.2.10/32']],
    ['192.0.2.7', '192.0.2.7', ['192.0.2.7/32']],
    ['0.0.0.0', '255.255.255.255', ['0.0.0.0/0']],
    ['255.255.255.255', '255.255.255.255', ['255.255.255.255/32']],
    ['::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', ['::/0']],
    ['2001:200::', '2001:200:ffff:ffff:ffff:ffff:ffff:ffff', ['2001:200::/32']],
    [
      '2001:db8::1',
      '2001:db8::6',
      ['2001:db8::1/128', '2001:db8::2/127', '2001:db8::4/127', '2001:db8::6/128'],
    ],
  ];
  it('splits ranges into the fewest aligned networks', () => {
    for (const [first, last, want] of table) {
      assert.deepEqual(cidrs(first, last), want, `${first}-${last}`);
    }
    // One block per prefix length from /2 to /31, then the last address alone.
    const most = cidrs('0.0.0.0', '127.255.255.254');
    assert.equal(most.length, 31);
    assert.deepEqual(
      [most[0], most[29], most[30]],
      ['0.0.0.0/2', '127.255.255.252/31', '127.255.255.254/32'],
    );
  });

  it('covers random ranges exactly, with aligned blocks no two of which could merge', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 2000; i++) {
      const family = i % 2 ? 4 : 6;
      const bits = family === 4 ? 32 : 128;
      const span = BigInt(Math.floor(rand() * 2 ** 20));
      const first =
        (BigInt(Math.floor(rand() * 2 ** 31)) << BigInt(bits - 31)) |
        BigInt(Math.floor(rand() * 2 ** 20));
      const last = first + span;
      const nets = rangeToCidrs(family, first, last);
      let next = first;
      for (const [j, n] of nets.entries()) {
        const r = networkRange(n);
        assert.equal(r.first, next, 'contiguous');
        assert.equal(n.address & ((1n << BigInt(bits - n.prefix)) - 1n), 0n, 'aligned');
        next = r.last + 1n;
        const after = nets[j + 1];
        // Two equal blocks that together form an aligned block of twice the size: not minimal.
        if (after && after.prefix === n.prefix)
          assert.notEqual(
            n.address & ((1n << BigInt(bits - n.prefix + 1)) - 1n),
            0n,
            `${formatNetwork(n)} and ${formatNetwork(after)} merge`,
          );
      }
      assert.equal(next, last + 1n, 'ends at last');
    }
  });
});

describe('CSV rows', () => {
  it('splits quoted fields', () => {
    assert.deepEqual(splitCsvLine('1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."'), [
      '1.0.0.0',
      '1.0.0.255',
      '13335',
      'Cloudflare, Inc.',
    ]);
    assert.deepEqual(splitCsvLine('a,"say ""hi""",'), ['a', 'say "hi"', '']);
    assert.deepEqual(splitCsvLine(' a , b '), ['a', 'b']);
    assert.throws(() => splitCsvLine('a,"open'), /unterminated/);
  });

  it('reads the country formats: ranges, networks, header, comments, CRLF, BOM', () => {
    const text = [
      '\uFEFFnetwork,country_code',
      '# a comment',
      '1.0.0.0,1.0.0.255,AU',
      '1.0.1.0,1.0.3.255,cn\r',
      '',
      '2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP',
      '198.51.100.0/24,DE',
      '2001:db8:de::/48,DE',
    ].join('\n');
    const rows = parseCountryCsv(text, 'c.csv');
    assert.deepEqual(
      rows.map((r) => [r.line, r.country, r.networks.map(formatNetwork)]),
      [
        [3, 'AU', ['1.0.0.0/24']],
        [4, 'CN', ['1.0.1.0/24', '1.0.2.0/23']],
        [6, 'JP', ['2001:200::/32']],
        [7, 'DE', ['198.51.100.0/24']],
        [8, 'DE', ['2001:db8:de::/48']],
      ],
    );
  });

  it('reads the ASN formats: quoted organisations, AS prefixes, no organisation', () => {
    const text = [
      '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."',
      '1.0.4.0,1.0.7.255,AS38803,Gtelecom Pty Ltd',
      '2001:4:112::/48,112,DNS-OARC',
      '192.0.2.0/24,64500',
    ].join('\n');
    assert.deepEqual(
      parseAsnCsv(text, 'a.csv').map((r) => [r.line, r.asn, r.org, r.networks.map(formatNetwork)]),
      [
        [1, 13335, 'Cloudflare, Inc.', ['1.0.0.0/24']],
        [2, 38803, 'Gtelecom Pty Ltd', ['1.0.4.0/22']],
        [3, 112, 'DNS-OARC', ['2001:4:112::/48']],
        [4, 64500, '', ['192.0.2.0/24']],
      ],
    );
  });

  it('names the file and line of a bad row', () => {
    const country: [string, RegExp][] = [
      ['1.0.0.0,1.0.0.255', /^bad\.csv:2: expected first,last,country_code/],
      ['1.0.0.0,1.0.0.255,AU,extra', /^bad\.csv:2: expected/],
      ['1.0.0.0,1.0.0.256,AU', /^bad\.csv:2: "1\.0\.0\.256" is not an IP address/],
      ['1.0.0.9,1.0.0.1,AU', /^bad\.csv:2: range 1\.0\.0\.9–1\.0\.0\.1 ends before it starts/],
      ['1.0.0.0,2001:db8::,AU', /^bad\.csv:2: .* different families/],
      ['1.0.0.0,1.0.0.255,Australia', /^bad\.csv:2: "Australia" is not a two-letter country code/],
      ['192.0.2.1/24,AU', /^bad\.csv:2: .*host bits/],
      ['1.0.0.0,1.0.0.255,"AU', /^bad\.csv:2: .*unterminated/],
    ];
    for (const [row, re] of country)
      assert.throws(
        () => parseCountryCsv(`1.0.0.0,1.0.0.255,AU\n${row}\n`, 'bad.csv'),
        { name: 'ValidationError', message: re },
        row,
      );
    const asn: [string, RegExp][] = [
      ['1.0.0.0,1.0.0.255,ASX,Org', /^bad\.csv:2: "ASX" is not an AS number/],
      ['1.0.0.0,1.0.0.255,0,Org', /^bad\.csv:2: "0" is not an AS number/],
      ['1.0.0.0,1.0.0.255,4294967296,Org', /^bad\.csv:2: "4294967296" is not an AS number/],
      ['192.0.2.0/24,1,Org,more', /^bad\.csv:2: expected first,last,asn,org or network,asn,org/],
    ];
    for (const [row, re] of asn)
      assert.throws(
        () => parseAsnCsv(`1.0.0.0,1.0.0.255,1,A\n${row}\n`, 'bad.csv'),
        { name: 'ValidationError', message: re },
        row,
      );
  });

  it('treats only a first line of column names as a header', () => {
    assert.throws(() => parseCountryCsv('1.0.0.x,1.0.0.255,AU\n', 'f.csv'), {
      message: /^f\.csv:1: /,
    });
  });
});

describe('continent table', () => {
  it('covers every ISO 3166-1 country, plus XK', () => {
    const known = new Set(knownCountries());
    assert.equal(known.size, 250);
    // Debian's iso-codes, where installed, is the reference list.
    const iso = '/usr/share/iso-codes/json/iso_3166-1.json';
    if (existsSync(iso)) {
      const codes = (JSON.parse(readFileSync(iso, 'utf8')) as { '3166-1': { alpha_2: string }[] })[
        '3166-1'
      ].map((c) => c.alpha_2);
      assert.deepEqual(
        codes.filter((c) => !known.has(c)),
        [],
      );
      assert.equal(codes.length + 1, known.size);
    }
  });

  it('codes continents as GeoIP databases do', () => {
    for (const [country, continent] of [
      ['DE', 'EU'],
      ['de', 'EU'],
      ['RU', 'EU'],
      ['TR', 'AS'],
      ['HK', 'AS'],
      ['US', 'NA'],
      ['PA', 'NA'],
      ['BR', 'SA'],
      ['EG', 'AF'],
      ['AU', 'OC'],
      ['AQ', 'AN'],
      ['XK', 'EU'],
    ])
      assert.equal(continentOf(country!), continent, country);
    assert.equal(continentOf('ZZ'), undefined);
  });
});
