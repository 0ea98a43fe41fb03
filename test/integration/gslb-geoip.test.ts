// GeoIP-driven answers with real `dig +subnet=`: clients from different countries get
// different pools with the scope of the GeoIP record that placed them; the ASN step and
// 'nearest' work from the .mmdb files; an .mmdb replaced on disk is picked up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { addresses, clientSubnet, dig } from '../helpers/dig.js';
import { writeGeoFixtures } from '../fixtures/geo/generate.js';
import { MmdbWriter } from '../../src/geo/tools/mmdb-writer.js';

const POLICY = {
  pools: {
    fra: { lat: 50.11, lon: 8.68, countries: ['DE'], continents: ['EU'] },
    hkg: { lat: 22.32, lon: 114.17, countries: ['HK'], continents: ['AS'] },
    iad: { lat: 38.95, lon: -77.45, countries: ['US'], continents: ['NA'] },
    peer: { asns: [64504] },
  },
  defaultPool: 'iad',
};

const NODES = [
  { id: 'fra-1', ipv4: '192.0.2.11', ipv6: '2001:db8:1::11', pool: 'fra' },
  { id: 'hkg-1', ipv4: '192.0.2.21', ipv6: '2001:db8:2::21', pool: 'hkg' },
  { id: 'iad-1', ipv4: '192.0.2.31', ipv6: '2001:db8:3::31', pool: 'iad' },
  { id: 'peer-1', ipv4: '192.0.2.41', pool: 'peer' },
];

describe('GSLB from GeoIP databases', () => {
  let run: RunningCirrus;
  let dir: string;
  let city: string;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-geo-'));
    const fixtures = writeGeoFixtures(dir);
    city = fixtures.city;
    run = await startCirrus({
      geo: { databases: [fixtures.city, fixtures.asn], watchIntervalMs: 100 },
    });
    assert.equal((await api(run, 'PUT', '/api/v1/nodes', NODES)).status, 200);
    assert.equal((await api(run, 'PUT', '/api/v1/policy', POLICY)).status, 200);
    const www = await api(run, 'POST', '/api/v1/domains', {
      domain: 'www.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
    base = www.json.cname;
  });
  after(async () => {
    await run?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const table: Array<[string, string, string, string, string]> = [
    // +subnet, qtype, why, edge, CLIENT-SUBNET echoed (source/scope)
    ['198.51.100.0/24', 'A', 'DE by country', '192.0.2.11', '198.51.100.0/24/24'],
    ['203.0.113.0/24', 'A', 'HK by country', '192.0.2.21', '203.0.113.0/24/24'],
    ['192.0.2.0/26', 'A', 'US: the record is a /25', '192.0.2.31', '192.0.2.0/26/25'],
    ['100.64.7.0/24', 'A', 'JP: AS64504 has the peer pool', '192.0.2.41', '100.64.7.0/24/10'],
    ['10.20.0.0/16', 'A', 'BR: no coverage, nearest pool is iad', '192.0.2.31', '10.20.0.0/16/8'],
    ['2001:db8:de::/56', 'AAAA', 'IPv6 DE', '2001:db8:1::11', '2001:db8:de::/56/48'],
  ];
  for (const [subnet, qtype, why, edge, echoed] of table) {
    it(`+subnet=${subnet}: ${why} → ${edge}`, async () => {
      const r = await dig(run.dnsPort, [base, qtype, `+subnet=${subnet}`]);
      assert.equal(r.status, 'NOERROR', r.raw);
      assert.deepEqual(addresses(r.answer), [edge], r.raw);
      assert.equal(clientSubnet(r.raw), echoed, r.raw);
    });
  }

  it('shows the GeoIP facts in whoami', async () => {
    const r = await dig(run.dnsPort, [
      `whoami.${run.config.zone.name}`,
      'TXT',
      '+subnet=203.0.113.0/24',
    ]);
    const text = r.answer.join('\n');
    assert.match(
      text,
      /country HK; continent AS; asn AS64502 \(Example HK\); coords 22\.32,114\.17 geoip/,
    );
  });

  it('counts the decisions and exports the database build epoch', async () => {
    const res = await fetch(`${run.apiUrl}/metrics`);
    const text = await res.text();
    assert.match(text, /cirrus_gslb_decisions_total\{decision="country",family="ipv4"\} [1-9]/);
    assert.match(text, /cirrus_gslb_decisions_total\{decision="asn",family="ipv4"\} [1-9]/);
    assert.match(text, /cirrus_gslb_decisions_total\{decision="nearest",family="ipv4"\} [1-9]/);
    assert.match(
      text,
      /cirrus_geoip_build_epoch_seconds\{database="GeoLite2-City.mmdb"\} 1767225600/,
    );
  });

  it('picks up an .mmdb replaced on disk, and keeps serving through a bad one', async () => {
    // First a broken file: the old data keeps answering.
    writeFileSync(`${city}.tmp`, 'not a database');
    renameSync(`${city}.tmp`, city);
    await new Promise((r) => setTimeout(r, 400));
    let r = await dig(run.dnsPort, [base, 'A', '+subnet=198.51.100.0/24']);
    assert.deepEqual(addresses(r.answer), ['192.0.2.11'], 'old database kept');

    // Then a good one that places 198.51.100.0/24 in Hong Kong.
    const w = new MmdbWriter({ databaseType: 'GeoLite2-City', ipVersion: 6 });
    w.insert('198.51.100.0/24', { country: { iso_code: 'HK' }, continent: { code: 'AS' } });
    writeFileSync(`${city}.tmp`, w.build().buffer);
    renameSync(`${city}.tmp`, city);
    const deadline = Date.now() + 3000;
    for (;;) {
      r = await dig(run.dnsPort, [base, 'A', '+subnet=198.51.100.0/24']);
      if (addresses(r.answer)[0] === '192.0.2.21' || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.deepEqual(addresses(r.answer), ['192.0.2.21'], r.raw);
    const metrics = await (await fetch(`${run.apiUrl}/metrics`)).text();
    assert.match(
      metrics,
      /cirrus_geoip_reloads_total\{database="GeoLite2-City.mmdb",result="failed"\} 1/,
    );
    assert.match(
      metrics,
      /cirrus_geoip_reloads_total\{database="GeoLite2-City.mmdb",result="success"\} 1/,
    );
  });
});
