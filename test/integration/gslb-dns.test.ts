// The GSLB engine seen from outside with real `dig`: ECS subnets (+subnet=) from different
// places get different pools with the right scope, CIDR maps win, ECS can be switched off
// per domain, and whoami / _explain explain it all in TXT.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { addresses, clientSubnet, dig } from '../helpers/dig.js';

const POLICY = {
  pools: {
    fra: { lat: 50.11, lon: 8.68, countries: ['DE'], continents: ['EU'] },
    hkg: { lat: 22.32, lon: 114.17, countries: ['HK'], continents: ['AS'] },
    iad: { lat: 38.95, lon: -77.45, countries: ['US'], continents: ['NA'] },
  },
  defaultPool: 'iad',
  nets: [
    { cidr: '198.51.100.0/24', pool: 'fra' },
    { cidr: '203.0.113.0/24', pool: 'hkg' },
    { cidr: '203.0.113.128/25', country: 'US' },
    { cidr: '2001:db8:4b::/48', pool: 'hkg' },
  ],
};

const NODES = [
  { id: 'fra-1', ipv4: '192.0.2.11', ipv6: '2001:db8:1::11', pool: 'fra' },
  { id: 'hkg-1', ipv4: '192.0.2.21', ipv6: '2001:db8:2::21', pool: 'hkg' },
  { id: 'iad-1', ipv4: '192.0.2.31', ipv6: '2001:db8:3::31', pool: 'iad' },
];

describe('GSLB over DNS with ECS and CIDR maps', () => {
  let run: RunningCirrus;
  let base: string;
  let quiet: string;

  before(async () => {
    run = await startCirrus();
    assert.equal((await api(run, 'PUT', '/api/v1/nodes', NODES)).status, 200);
    const policy = await api(run, 'PUT', '/api/v1/policy', POLICY);
    assert.equal(policy.status, 200, JSON.stringify(policy.json));
    const www = await api(run, 'POST', '/api/v1/domains', {
      domain: 'www.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
    base = www.json.cname;
    const q = await api(run, 'POST', '/api/v1/domains', {
      domain: 'quiet.example.com',
      origins: [{ address: '203.0.113.1' }],
      ecs: false,
    });
    assert.equal(q.status, 201, JSON.stringify(q.json));
    quiet = q.json.cname;
  });
  after(() => run?.stop());

  const table: Array<[string, string, string, string]> = [
    // +subnet, qtype, the edge answered, the CLIENT-SUBNET echoed (source/scope)
    ['198.51.100.0/24', 'A', '192.0.2.11', '198.51.100.0/24/24'],
    // The /24 maps to hkg, but its upper /25 is mapped to US: the answer holds for the /25.
    ['203.0.113.0/24', 'A', '192.0.2.21', '203.0.113.0/24/25'],
    ['203.0.113.128/25', 'A', '192.0.2.31', '203.0.113.128/25/25'],
    ['2001:db8:4b::/48', 'AAAA', '2001:db8:2::21', '2001:db8:4b::/48/48'],
    // Unmapped: the default pool. No map entry lies inside 192.0.0.0/6, so the answer holds there.
    ['192.0.2.0/24', 'A', '192.0.2.31', '192.0.2.0/24/6'],
  ];
  for (const [subnet, qtype, edge, echoed] of table) {
    it(`+subnet=${subnet} ${qtype} → ${edge}, scope in ${echoed}`, async () => {
      const r = await dig(run.dnsPort, [base, qtype, `+subnet=${subnet}`]);
      assert.equal(r.status, 'NOERROR');
      assert.deepEqual(addresses(r.answer), [edge], r.raw);
      assert.equal(clientSubnet(r.raw), echoed, r.raw);
    });
  }

  it('answers a /0 source from the resolver address, with scope 0', async () => {
    const r = await dig(run.dnsPort, [base, 'A', '+subnet=0.0.0.0/0']);
    assert.deepEqual(addresses(r.answer), ['192.0.2.31']);
    assert.equal(clientSubnet(r.raw), '0.0.0.0/0/0');
  });

  it('ignores ECS for a domain with ecs off, and says so with scope 0', async () => {
    const r = await dig(run.dnsPort, [quiet, 'A', '+subnet=198.51.100.0/24']);
    assert.deepEqual(addresses(r.answer), ['192.0.2.31'], 'the resolver 127.0.0.1 is unmapped');
    assert.equal(clientSubnet(r.raw), '198.51.100.0/24/0');
  });

  it('refuses a malformed ECS option with FORMERR', async () => {
    // Source /24 but an address with host bits set: dig sends it as given.
    const r = await dig(run.dnsPort, [base, 'A', '+ednsopt=8:0001180098336401']);
    assert.equal(r.status, 'FORMERR');
  });

  it('whoami.<zone> tells the resolver, the ECS subnet and the location', async () => {
    const r = await dig(run.dnsPort, [
      `whoami.${run.config.zone.name}`,
      'TXT',
      '+subnet=203.0.113.0/24',
    ]);
    const text = r.answer.join('\n');
    assert.match(text, /resolver 127\.0\.0\.1/);
    assert.match(text, /ecs 203\.0\.113\.0\/24/);
    assert.match(text, /map 203\.0\.113\.0\/24 pool=hkg \/25/);
    assert.ok(
      r.answer.every((l) => l.split(' ')[1] === '0'),
      'TTL 0',
    );
    assert.equal(clientSubnet(r.raw), '203.0.113.0/24/24');
  });

  it('_explain.<base name> gives the whole decision in TXT', async () => {
    const r = await dig(run.dnsPort, [`_explain.${base}`, 'TXT', '+subnet=198.51.100.0/24']);
    assert.equal(r.status, 'NOERROR');
    const text = r.answer.join('\n');
    assert.match(text, /is www\.example\.com/);
    assert.match(text, /v4 map 198\.51\.100\.0\/24 -> pool fra: fra chosen/);
    assert.match(text, /v4 candidates fra-1\* up w100/);
    assert.match(
      text,
      /v4 answer 192\.0\.2\.11 \(edges\); decision map pool fra; ttl 60 \(domain ttl\); scope \/24/,
    );
    assert.match(text, /v6 answer 2001:db8:1::11/);
  });

  it('the API explains the same decision', async () => {
    const r = await api(
      run,
      'GET',
      `/api/v1/explain?name=www.example.com&type=A&client=127.0.0.1&ecs=203.0.113.128/25`,
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.location.country, 'US');
    assert.equal(r.json.families[0].decision, 'country');
    assert.deepEqual(r.json.families[0].answers, ['192.0.2.31']);
    assert.equal(r.json.scope, 25);
    const bad = await api(run, 'GET', `/api/v1/explain?name=www.example.com&ecs=nonsense`);
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /querystring\.ecs/);
  });

  it('refuses a policy that does not compile, naming the problem, and keeps the old one', async () => {
    const r = await api(run, 'PUT', '/api/v1/policy', {
      ...POLICY,
      nets: [{ cidr: '10.0.0.1/8', pool: 'fra' }],
    });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /nets\[0\]\.cidr/);
    const kept = await dig(run.dnsPort, [base, 'A', '+subnet=198.51.100.0/24']);
    assert.deepEqual(addresses(kept.answer), ['192.0.2.11']);
  });

  it('refuses a domain limited to a pool that does not exist', async () => {
    const r = await api(run, 'PATCH', '/api/v1/domains/www.example.com', { pools: ['fr'] });
    assert.equal(r.status, 400);
    assert.match(r.json.message, /pools\[0\]: pool "fr"/);
  });
});

describe('debug names behind an access list', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({ debug: { enabled: true, allow: ['192.0.2.0/24'] } });
  });
  after(() => run?.stop());

  it('refuses whoami to a client outside the list', async () => {
    const r = await dig(run.dnsPort, [`whoami.${run.config.zone.name}`, 'TXT']);
    assert.equal(r.status, 'REFUSED');
  });
});
