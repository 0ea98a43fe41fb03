// The admin API route by route through `app.inject` (fastify/demo style): the app built by
// buildApi with the deps the server composes (embedded store in memory, the snapshot manager,
// GeoIP fixtures). Each case pins status, body and what the store holds after the call.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildApiApp, type ApiApp } from '../helpers/api-app.js';
import { writeGeoFixtures } from '../fixtures/geo/generate.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const ZONE = 'cdn.example.net';
const NODES = [
  { id: 'fra-1', ipv4: '192.0.2.11', ipv6: '2001:db8:1::11', pool: 'fra' },
  { id: 'iad-1', ipv4: '192.0.2.31', pool: 'iad', weight: 200 },
];
const POLICY = {
  pools: {
    fra: { lat: 50.11, lon: 8.68, countries: ['DE'], continents: ['EU'] },
    iad: { lat: 38.95, lon: -77.45, countries: ['US'], continents: ['NA'] },
  },
  defaultPool: 'iad',
};

/** Parsed JSON body. `any`: each test reads the fields it pins from the route's shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (res: { body: string }): any => JSON.parse(res.body);

describe('admin API via app.inject', () => {
  let api: ApiApp;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-api-inject-'));
    const geo = writeGeoFixtures(dir);
    api = await buildApiApp({
      zone: { name: ZONE },
      geo: { databases: [geo.city, geo.asn] },
      xfr: {
        keys: [{ name: 'config-key', secret: 'c2VjcmV0c2VjcmV0c2VjcmV0' }],
        // Loopback ports nobody serves: polls and NOTIFYs fail at once (ICMP), no timer lingers.
        secondaries: [{ name: 'config-ns', address: '127.0.0.1', port: 9, notify: false }],
      },
      acme: { issuer: { enabled: true, directory: 'https://acme.invalid/directory' } },
    });
    assert.equal((await api.call('PUT', '/api/v1/policy', POLICY)).statusCode, 200);
    assert.equal((await api.call('PUT', '/api/v1/nodes', NODES)).statusCode, 200);
  });
  after(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('authentication and tokens', () => {
    it('answers 401 under /api/v1 without a token, with a wrong one, or a malformed header', async () => {
      for (const authorization of [undefined, 'Bearer nope', 'Basic abc', `Bearer ${api.token}x`]) {
        const res = await api.app.inject({
          method: 'GET',
          url: '/api/v1/domains',
          headers: authorization ? { authorization } : {},
        });
        assert.equal(res.statusCode, 401, String(authorization));
        assert.equal(json(res).error, 'UNAUTHORIZED');
        assert.match(json(res).message, /Authorization: Bearer/);
      }
    });

    it('creates a token that works, lists it without its secret, and deletes it', async () => {
      const created = await api.call('POST', '/api/v1/tokens', { name: 'ci' });
      assert.equal(created.statusCode, 201);
      const { id, token, name } = json(created);
      assert.equal(name, 'ci');
      assert.ok(typeof token === 'string' && token.length >= 20);

      const listed = json(await api.call('GET', '/api/v1/tokens'));
      const entry = listed.find((t: { id: string }) => t.id === id);
      assert.deepEqual(Object.keys(entry).sort(), ['createdAt', 'id', 'name']);
      assert.ok((await api.cirrus.repos.tokens.list()).some((t) => t.id === id));

      const asNew = { authorization: `Bearer ${token}` };
      assert.equal((await api.call('GET', '/api/v1/nodes', undefined, asNew)).statusCode, 200);
      assert.equal((await api.call('DELETE', `/api/v1/tokens/${id}`)).statusCode, 204);
      assert.equal((await api.call('GET', '/api/v1/nodes', undefined, asNew)).statusCode, 401);
      assert.ok(!(await api.cirrus.repos.tokens.list()).some((t) => t.id === id));
      const again = await api.call('DELETE', `/api/v1/tokens/${id}`);
      assert.equal(again.statusCode, 404);
      assert.equal(json(again).error, 'NOT_FOUND');
    });

    it('refuses a token body without a name, naming the field', async () => {
      const res = await api.call('POST', '/api/v1/tokens', { name: '' });
      assert.equal(res.statusCode, 400);
      assert.equal(json(res).field, 'body.name');
    });
  });

  describe('domains', () => {
    it('creates a domain: 201 with its CNAME target, stored, and served by the snapshot', async () => {
      const res = await api.call('POST', '/api/v1/domains', {
        domain: 'WWW.Example.com',
        origins: [{ address: '203.0.113.1' }],
      });
      assert.equal(res.statusCode, 201);
      const d = json(res);
      assert.equal(d.domain, 'www.example.com');
      assert.equal(d.cname, `www-example-com.${ZONE}`);
      assert.equal(d.ttl, 60);
      assert.equal(d.answers, 1);
      assert.equal(d.ecs, true);
      // The default pool iad has no IPv6 node: IPv6 comes from the nearest pool with it.
      assert.deepEqual(d.serving, {
        ipv4: ['192.0.2.31'],
        ipv6: ['2001:db8:1::11'],
        source: 'edges',
      });
      const stored = await api.cirrus.repos.domains.get('www.example.com');
      assert.equal(stored?.label, 'www-example-com');
      assert.deepEqual(stored?.origins, [
        { address: '203.0.113.1', protocol: 'http', weight: 1, backup: false },
      ]);
      assert.ok(api.cirrus.snapshots.current.plans.has(`www-example-com.${ZONE}`));
    });

    it('reads one domain (any case) and lists them sorted', async () => {
      await api.call('POST', '/api/v1/domains', {
        domain: 'api.example.com',
        origins: [{ address: '203.0.113.2' }],
        answers: 2,
        spread: { nodes: 2 },
      });
      const one = await api.call('GET', '/api/v1/domains/API.example.COM');
      assert.equal(one.statusCode, 200);
      assert.equal(json(one).answers, 2);
      assert.deepEqual(json(one).spread, { nodes: 2, v4Prefix: 24, v6Prefix: 48 });
      const all = json(await api.call('GET', '/api/v1/domains'));
      assert.deepEqual(
        all.map((d: { domain: string }) => d.domain),
        ['api.example.com', 'www.example.com'],
      );
    });

    it('refuses bad bodies with 400 naming the field, and stores nothing', async () => {
      const cases: Array<[unknown, string]> = [
        [{ domain: 'x.example.com' }, 'body.origins'],
        [{ domain: 'x.example.com', origins: [] }, 'body.origins'],
        [{ domain: 'x.example.com', origins: [{ port: 80 }] }, 'body.origins[0].address'],
        [
          { domain: 'x.example.com', origins: [{ address: 'a', weight: 0 }] },
          'body.origins[0].weight',
        ],
        [{ domain: 'not a name', origins: [{ address: 'a' }] }, 'body.domain'],
        [{ domain: 'x.example.com', origins: [{ address: 'a' }], ttl: 0 }, 'body.ttl'],
        [{ domain: 'x.example.com', origins: [{ address: 'a' }], colour: 1 }, 'body.colour'],
        [{ domain: `in.${ZONE}`, origins: [{ address: 'a' }] }, 'domain'],
        [
          { domain: 'x.example.com', origins: [{ address: 'a' }], pools: ['nowhere'] },
          'body.pools[0]',
        ],
      ];
      for (const [body, field] of cases) {
        const res = await api.call('POST', '/api/v1/domains', body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.equal(json(res).error, 'VALIDATION', JSON.stringify(body));
        assert.equal(json(res).field, field, `${JSON.stringify(body)}: ${res.body}`);
      }
      assert.equal(await api.cirrus.repos.domains.get('x.example.com'), undefined);
    });

    it('answers 409 for a domain that exists', async () => {
      const res = await api.call('POST', '/api/v1/domains', {
        domain: 'www.example.com',
        origins: [{ address: '203.0.113.9' }],
      });
      assert.equal(res.statusCode, 409);
      assert.equal(json(res).field, 'domain');
      const stored = await api.cirrus.repos.domains.get('www.example.com');
      assert.equal(stored?.origins[0]?.address, '203.0.113.1');
    });

    it('PATCH changes only the fields given; PUT replaces the whole config', async () => {
      const patched = await api.call('PATCH', '/api/v1/domains/api.example.com', { ttl: 300 });
      assert.equal(patched.statusCode, 200);
      assert.equal(json(patched).ttl, 300);
      let stored = await api.cirrus.repos.domains.get('api.example.com');
      assert.equal(stored?.ttl, 300);
      assert.equal(stored?.answers, 2, 'untouched by PATCH');
      assert.equal(stored?.label, 'api-example-com');

      const put = await api.call('PUT', '/api/v1/domains/api.example.com', {
        origins: [{ address: '203.0.113.3' }],
      });
      assert.equal(put.statusCode, 200);
      stored = await api.cirrus.repos.domains.get('api.example.com');
      assert.equal(stored?.ttl, undefined, 'PUT drops what the body leaves out');
      assert.equal(stored?.answers, undefined);
      assert.equal(stored?.origins[0]?.address, '203.0.113.3');
      assert.equal(stored?.label, 'api-example-com', 'the label never changes');
    });

    it('PATCH refuses unknown fields and bad values, naming them', async () => {
      const unknown = await api.call('PATCH', '/api/v1/domains/api.example.com', { label: 'x' });
      assert.equal(unknown.statusCode, 400);
      assert.equal(json(unknown).field, 'body.label');
      const bad = await api.call('PATCH', '/api/v1/domains/api.example.com', { answers: 99 });
      assert.equal(bad.statusCode, 400);
      assert.equal(json(bad).field, 'body.answers');
    });

    it('answers 404 for a domain that does not exist, on every verb', async () => {
      const url = '/api/v1/domains/missing.example.com';
      for (const [method, body] of [
        ['GET', undefined],
        ['PATCH', { ttl: 30 }],
        ['PUT', { origins: [{ address: '203.0.113.4' }] }],
        ['DELETE', undefined],
      ] as const) {
        const res = await api.call(method, url, body);
        assert.equal(res.statusCode, 404, method);
        assert.equal(json(res).error, 'NOT_FOUND', method);
      }
    });

    it('DELETE removes the domain from the store and the live snapshot', async () => {
      const res = await api.call('DELETE', '/api/v1/domains/api.example.com');
      assert.equal(res.statusCode, 204);
      assert.equal(res.body, '');
      assert.equal(await api.cirrus.repos.domains.get('api.example.com'), undefined);
      assert.ok(!api.cirrus.snapshots.current.domains.has('api.example.com'));
    });
  });

  describe('nodes', () => {
    it('lists the nodes sorted, with mode and who owns `active`', async () => {
      const res = await api.call('GET', '/api/v1/nodes');
      assert.equal(res.statusCode, 200);
      const nodes = json(res);
      assert.deepEqual(
        nodes.map((n: { id: string }) => n.id),
        ['fra-1', 'iad-1'],
      );
      assert.equal(nodes[0].mode, 'auto');
      assert.equal(nodes[0].activeBy, 'api');
      assert.equal(nodes[1].weight, 200);
    });

    it('PUT /nodes/{id} creates (201) then replaces (200); PATCH changes one field', async () => {
      const created = await api.call('PUT', '/api/v1/nodes/hkg-1', {
        ipv4: '192.0.2.21',
        pool: 'hkg',
      });
      assert.equal(created.statusCode, 201);
      assert.equal(json(created).weight, 100);
      const replaced = await api.call('PUT', '/api/v1/nodes/hkg-1', {
        ipv6: '2001:db8:2::21',
        pool: 'hkg',
      });
      assert.equal(replaced.statusCode, 200);
      let stored = await api.cirrus.repos.nodes.get('hkg-1');
      assert.equal(stored?.ipv4, undefined);
      assert.equal(stored?.ipv6, '2001:db8:2::21');

      const patched = await api.call('PATCH', '/api/v1/nodes/hkg-1', {
        weight: 7,
        active: false,
      });
      assert.equal(patched.statusCode, 200);
      stored = await api.cirrus.repos.nodes.get('hkg-1');
      assert.equal(stored?.weight, 7);
      assert.equal(stored?.active, false);
      assert.equal(stored?.ipv6, '2001:db8:2::21', 'untouched by PATCH');
      const one = json(await api.call('GET', '/api/v1/nodes/hkg-1'));
      assert.equal(one.active, false);
    });

    it('a probed node has its `active` set by the probes: the body value is ignored', async () => {
      const res = await api.call('PUT', '/api/v1/nodes/probed-1', {
        ipv4: '192.0.2.99',
        pool: 'iad',
        active: true,
        probe: { type: 'tcp', port: 9 },
      });
      assert.equal(res.statusCode, 201);
      assert.equal(json(res).activeBy, 'probes');
      assert.equal(json(res).probe.type, 'tcp');
    });

    it('refuses bad input with 400 naming the field', async () => {
      const cases: Array<[string, string, unknown, string]> = [
        ['PUT', '/api/v1/nodes/n1', { ipv4: '300.1.1.1' }, 'body.ipv4'],
        ['PUT', '/api/v1/nodes/n1', { ipv6: 'nope' }, 'body.ipv6'],
        ['PUT', '/api/v1/nodes/n1', { pool: 'Bad Pool' }, 'body.pool'],
        ['PUT', '/api/v1/nodes/n1', { weight: -1 }, 'body.weight'],
        ['PUT', '/api/v1/nodes/-bad', { ipv4: '192.0.2.1' }, 'params.id'],
        ['PATCH', '/api/v1/nodes/fra-1', { id: 'x' }, 'body.id'],
        // Pins the fix of an array body's item named body.[1].id.
        [
          'PUT',
          '/api/v1/nodes',
          [{ id: 'ok', ipv4: '192.0.2.1' }, { ipv4: '192.0.2.2' }],
          'body[1].id',
        ],
      ];
      for (const [method, url, body, field] of cases) {
        const res = await api.call(method as 'PUT', url, body);
        assert.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(body)}`);
        assert.equal(json(res).field, field, res.body);
      }
      assert.equal(await api.cirrus.repos.nodes.get('n1'), undefined);
      assert.equal((await api.cirrus.repos.nodes.list()).length, 4, 'the list PUT stored nothing');
    });

    it('DELETE removes a node; 404 afterwards and for unknown ids', async () => {
      assert.equal((await api.call('DELETE', '/api/v1/nodes/probed-1')).statusCode, 204);
      assert.equal(await api.cirrus.repos.nodes.get('probed-1'), undefined);
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await api.call(method, '/api/v1/nodes/probed-1');
        assert.equal(res.statusCode, 404, method);
      }
      const patch = await api.call('PATCH', '/api/v1/nodes/nobody', { weight: 1 });
      assert.equal(patch.statusCode, 404);
    });

    it('PUT /nodes replaces the whole list; one that drains a pool needs force=true', async () => {
      const list = [...NODES, { id: 'x-1', ipv4: '192.0.2.77' }];
      const refused = await api.call('PUT', '/api/v1/nodes', list);
      assert.equal(refused.statusCode, 409, refused.body);
      assert.equal(json(refused).error, 'BLAST_RADIUS');
      assert.match(json(refused).message, /pool-drained: every node of pool hkg/);
      assert.equal(await api.cirrus.repos.nodes.get('x-1'), undefined, 'nothing written');
      const res = await api.call('PUT', '/api/v1/nodes?force=true', list);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(api.cirrus.snapshots.heldChange, undefined, 'the forced write is published');
      assert.deepEqual(
        json(res).map((n: { id: string }) => n.id),
        ['fra-1', 'iad-1', 'x-1'],
      );
      assert.deepEqual((await api.cirrus.repos.nodes.list()).map((n) => n.id).sort(), [
        'fra-1',
        'iad-1',
        'x-1',
      ]);
      assert.equal((await api.cirrus.repos.nodes.get('x-1'))?.pool, 'default');
    });
  });

  describe('zone', () => {
    it('exports the zone as text: SOA with the live serial, NS, base names', async () => {
      const res = await api.call('GET', '/api/v1/zone');
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /^text\/dns/);
      const serial = api.cirrus.snapshots.current.serial;
      assert.match(
        res.body,
        new RegExp(`^${ZONE.replace(/\./g, '\\.')}\\.\\s.*SOA.*\\s${serial}\\s`, 'm'),
      );
      assert.match(res.body, /\sNS\s/);
      assert.match(res.body, /^www-example-com\.cdn\.example\.net\./m);
    });

    it('replaces the static records: 200 with the count and a new serial, stored as sent', async () => {
      const before = api.cirrus.snapshots.current.serial;
      const text = 'status 300 IN A 198.51.100.10\nwww IN CNAME status\n';
      const res = await api.call('PUT', '/api/v1/zone/records', text);
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(json(res).records >= 2);
      assert.notEqual(json(res).serial, before);
      assert.equal(await api.cirrus.repos.zoneText.get(ZONE), text);
      const read = await api.call('GET', '/api/v1/zone/records');
      assert.equal(read.body, text);
      assert.match(
        (await api.call('GET', '/api/v1/zone')).body,
        /^status\.cdn\.example\.net\.\s+300\s+IN\s+A\s+198\.51\.100\.10/m,
      );
    });

    it('refuses records that do not parse, naming the body, and keeps the stored ones', async () => {
      const kept = await api.cirrus.repos.zoneText.get(ZONE);
      const res = await api.call('PUT', '/api/v1/zone/records', 'bad IN A 999.1.1.1\n');
      assert.equal(res.statusCode, 400);
      assert.equal(json(res).field, 'body');
      assert.equal(await api.cirrus.repos.zoneText.get(ZONE), kept);
    });
  });

  describe('policy, explain, health', () => {
    it('returns the stored policy with its defaults filled in', async () => {
      const res = await api.call('GET', '/api/v1/policy');
      assert.equal(res.statusCode, 200);
      const p = json(res);
      assert.equal(p.defaultPool, 'iad');
      assert.deepEqual(p.chain, ['asn', 'country', 'continent', 'nearest', 'default']);
      assert.equal(p.pools.fra.minHealthy, 1);
      assert.equal(p.lastResort, 'backup');
    });

    it('replaces the policy and refuses one that does not compile or validate', async () => {
      const next = {
        ...POLICY,
        lastResort: 'fail-open',
        nets: [{ cidr: '10.0.0.0/8', pool: 'fra' }],
      };
      const ok = await api.call('PUT', '/api/v1/policy', next);
      assert.equal(ok.statusCode, 200);
      assert.equal((await api.cirrus.repos.policy.get())?.lastResort, 'fail-open');

      const badPool = await api.call('PUT', '/api/v1/policy', { ...POLICY, defaultPool: 'Nope' });
      assert.equal(badPool.statusCode, 400);
      assert.equal(json(badPool).field, 'body.defaultPool');
      const badChain = await api.call('PUT', '/api/v1/policy', { ...POLICY, chain: ['sideways'] });
      assert.equal(badChain.statusCode, 400);
      assert.equal(json(badChain).field, 'body.chain[0]');
      assert.equal((await api.cirrus.repos.policy.get())?.lastResort, 'fail-open', 'unchanged');
    });

    it('explains a decision from the GeoIP fixtures, by base name or customer domain', async () => {
      const byBase = await api.call(
        'GET',
        `/api/v1/explain?name=www-example-com.${ZONE}&client=192.0.2.1&ecs=198.51.100.0/24&type=A`,
      );
      assert.equal(byBase.statusCode, 200, byBase.body);
      const r = json(byBase);
      assert.equal(r.domain, 'www.example.com');
      assert.equal(r.location.country, 'DE');
      assert.equal(r.location.source, 'ecs');
      assert.equal(r.serial, api.cirrus.snapshots.current.serial);
      assert.ok(JSON.stringify(r).includes('192.0.2.11'), 'the DE client gets the fra edge');

      const byDomain = await api.call(
        'GET',
        '/api/v1/explain?name=www.example.com&client=192.0.2.1',
      );
      assert.equal(byDomain.statusCode, 200);
      assert.equal(json(byDomain).location.country, 'US');
    });

    it('explain: 404 for an unknown name, 400 naming a bad client, ecs or type', async () => {
      const unknown = await api.call('GET', '/api/v1/explain?name=nope.example.com');
      assert.equal(unknown.statusCode, 404);
      const cases: Array<[string, string]> = [
        ['client=not-an-ip', 'querystring.client'],
        ['ecs=198.51.100.0/99', 'querystring.ecs'],
        ['type=MX', 'querystring.type'],
      ];
      for (const [q, field] of cases) {
        const res = await api.call('GET', `/api/v1/explain?name=www.example.com&${q}`);
        assert.equal(res.statusCode, 400, q);
        assert.equal(json(res).field, field, res.body);
      }
    });

    it('reports the health checker view of every node', async () => {
      const res = await api.call('GET', '/api/v1/health');
      assert.equal(res.statusCode, 200);
      assert.ok(Array.isArray(json(res).nodes));
    });
  });

  describe('certificates', () => {
    it('GET: 404 before any request, then the stored state as a view', async () => {
      const none = await api.call('GET', '/api/v1/domains/www.example.com/certificate');
      assert.equal(none.statusCode, 404);
      assert.match(json(none).message, /no certificate was requested/);
      await api.cirrus.repos.acme.putState({
        domain: 'www.example.com',
        subdomain: '3f1c7a2e-0000-4000-8000-000000000001',
        username: 'u-1',
        wildcard: true,
        status: 'awaiting_cname',
        lastError: 'no CNAME yet',
        lastAttemptAt: null,
        orders: 0,
        updatedAt: '2026-12-01T00:00:00.000Z',
      });
      const res = await api.call('GET', '/api/v1/domains/WWW.example.com/certificate');
      assert.equal(res.statusCode, 200);
      const v = json(res);
      assert.equal(v.status, 'awaiting_cname');
      assert.deepEqual(v.names, ['www.example.com', '*.www.example.com']);
      assert.deepEqual(v.cname, {
        name: '_acme-challenge.www.example.com',
        target: `3f1c7a2e-0000-4000-8000-000000000001.acme.${ZONE}`,
      });
      assert.equal(v.issuedAt, null);
      assert.equal(v.lastError, 'no CNAME yet');
    });

    it('POST: 404 for a domain that is not managed, 400 naming an unknown body field', async () => {
      const res = await api.call('POST', '/api/v1/domains/other.example.com/certificate', {});
      assert.equal(res.statusCode, 404);
      assert.match(json(res).message, /not managed/);
      assert.equal(await api.cirrus.repos.acme.getState('other.example.com'), undefined);
      const bad = await api.call('POST', '/api/v1/domains/www.example.com/certificate', {
        renew: true,
      });
      assert.equal(bad.statusCode, 400);
      assert.equal(json(bad).field, 'body.renew');
    });
  });

  describe('edge (purge, overrides)', () => {
    it('checks purge targets before anything is sent: 400 naming the field', async () => {
      const cases: Array<[unknown, string]> = [
        [{}, 'body'],
        [{ domains: ['unknown.example.com'] }, 'body.domains[0]'],
        [{ urls: ['not a url'] }, 'body.urls[0]'],
        [{ urls: ['https://www.example.com/a', 'https://other.example.com/b'] }, 'body.urls[1]'],
      ];
      for (const [body, field] of cases) {
        const res = await api.call('POST', '/api/v1/purge', body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.equal(json(res).field, field, res.body);
      }
    });

    it('with the embedded store, a valid purge or override is a 409 that names Redis', async () => {
      const purge = await api.call('POST', '/api/v1/purge', { domains: ['www.example.com'] });
      assert.equal(purge.statusCode, 409);
      assert.match(json(purge).message, /needs the Redis store/);
      const override = await api.call('GET', '/api/v1/nodes/fra-1/edge');
      assert.equal(override.statusCode, 409);
    });

    it('answers 404 for the override of an unknown node', async () => {
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await api.call(method, '/api/v1/nodes/ghost/edge');
        assert.equal(res.statusCode, 404, method);
      }
    });
  });

  describe('secondaries and TSIG keys', () => {
    it('lists the config secondary with the live serial', async () => {
      const res = await api.call('GET', '/api/v1/secondaries');
      assert.equal(res.statusCode, 200);
      const body = json(res);
      assert.equal(body.zone, ZONE);
      assert.equal(body.serial, api.cirrus.snapshots.current.serial);
      assert.deepEqual(
        body.secondaries.map((s: { name: string; source: string }) => [s.name, s.source]),
        [['config-ns', 'config']],
      );
    });

    it('adds a key and a secondary that uses it, both stored; secrets never returned', async () => {
      const key = await api.call('PUT', '/api/v1/tsig-keys/xfr-key', {
        secret: 'YWJjZGVmZ2hpamtsbW5vcA==',
      });
      assert.equal(key.statusCode, 200, key.body);
      assert.deepEqual(json(key), { name: 'xfr-key', algorithm: 'hmac-sha256', source: 'api' });
      const sec = await api.call('PUT', '/api/v1/secondaries/ns2', {
        address: '127.0.0.1',
        port: 9,
        key: 'xfr-key',
      });
      assert.equal(sec.statusCode, 200, sec.body);
      const peers = await api.cirrus.repos.xfr.getPeers();
      assert.deepEqual(
        peers?.secondaries.map((s) => [s.name, s.address, s.key]),
        [['ns2', '127.0.0.1', 'xfr-key']],
      );
      const keys = await api.call('GET', '/api/v1/tsig-keys');
      assert.deepEqual(json(keys), [
        { name: 'config-key', algorithm: 'hmac-sha256', source: 'config' },
        { name: 'xfr-key', algorithm: 'hmac-sha256', source: 'api' },
      ]);
      assert.ok(!keys.body.includes('YWJjZGVm'));
      const listed = json(await api.call('GET', '/api/v1/secondaries'));
      assert.deepEqual(
        listed.secondaries.map((s: { name: string; source: string }) => [s.name, s.source]),
        [
          ['config-ns', 'config'],
          ['ns2', 'api'],
        ],
      );
    });

    it('refuses what would break the peers: 409 for config entries and keys in use, 400 naming fields', async () => {
      const inUse = await api.call('DELETE', '/api/v1/tsig-keys/xfr-key');
      assert.equal(inUse.statusCode, 409);
      assert.match(json(inUse).message, /used by secondary ns2/);
      assert.equal(
        (await api.call('PUT', '/api/v1/secondaries/config-ns', { address: '192.0.2.9' }))
          .statusCode,
        409,
      );
      assert.equal((await api.call('DELETE', '/api/v1/tsig-keys/config-key')).statusCode, 409);

      const unknownKey = await api.call('PUT', '/api/v1/secondaries/ns3', {
        address: '192.0.2.54',
        key: 'nope',
      });
      assert.equal(unknownKey.statusCode, 400);
      assert.equal(json(unknownKey).field, 'body.key');
      const badSecret = await api.call('PUT', '/api/v1/tsig-keys/k2', { secret: 'short' });
      assert.equal(badSecret.statusCode, 400);
      assert.equal(json(badSecret).field, 'body.secret');
      const peers = await api.cirrus.repos.xfr.getPeers();
      assert.deepEqual(
        peers?.secondaries.map((s) => s.name),
        ['ns2'],
      );
      assert.deepEqual(
        peers?.keys.map((k) => k.name),
        ['xfr-key'],
      );
    });

    it('deletes the secondary, then its key; 404 for unknown ones', async () => {
      assert.equal((await api.call('DELETE', '/api/v1/secondaries/ns2')).statusCode, 204);
      assert.equal((await api.call('DELETE', '/api/v1/tsig-keys/xfr-key')).statusCode, 204);
      assert.deepEqual(await api.cirrus.repos.xfr.getPeers(), { keys: [], secondaries: [] });
      assert.equal((await api.call('DELETE', '/api/v1/secondaries/ns2')).statusCode, 404);
      assert.equal((await api.call('DELETE', '/api/v1/tsig-keys/xfr-key')).statusCode, 404);
    });
  });

  describe('acme-dns API', () => {
    let account: { username: string; password: string; subdomain: string; fulldomain: string };

    it('/register: 201 with credentials and the full domain; the account is stored', async () => {
      const res = await api.app.inject({ method: 'POST', url: '/register' });
      assert.equal(res.statusCode, 201, res.body);
      account = json(res);
      assert.equal(account.fulldomain, `${account.subdomain}.acme.${ZONE}`);
      assert.deepEqual(json(res).allowfrom, []);
      const stored = await api.cirrus.repos.acme.getDnsAccount(account.username);
      assert.equal(stored?.subdomain, account.subdomain);
      assert.ok(!JSON.stringify(stored).includes(account.password), 'only a hash is kept');
    });

    it('/register: 400 with acme-dns codes for a bad allowfrom or a body that is not JSON', async () => {
      const bad = await api.app.inject({
        method: 'POST',
        url: '/register',
        payload: { allowfrom: ['not-a-cidr'] },
      });
      assert.equal(bad.statusCode, 400);
      assert.equal(json(bad).error, 'invalid_allowfrom_cidr');
      const notJson = await api.app.inject({
        method: 'POST',
        url: '/register',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '{nope',
      });
      assert.equal(notJson.statusCode, 400);
      assert.equal(json(notJson).error, 'malformed_json_payload');
    });

    const update = (
      headers: Record<string, string>,
      payload: unknown,
      method: 'POST' | 'DELETE' = 'POST',
    ) => api.app.inject({ method, url: '/update', headers, payload: payload as object });

    it('/update publishes the TXT value: stored and served by the live snapshot', async () => {
      const value = 'x'.repeat(43);
      const creds = { 'x-api-user': account.username, 'x-api-key': account.password };
      const res = await update(creds, { subdomain: account.subdomain, txt: value });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(json(res), { txt: value });
      const stored = await api.cirrus.repos.acme.listTxt(Date.now());
      assert.ok(stored.some((t) => t.name === account.subdomain && t.value === value));
      assert.match(api.cirrus.snapshots.current.zone.name, /cdn\.example\.net/);
      const zone = (await api.call('GET', '/api/v1/zone')).body;
      assert.ok(zone.includes(`"${value}"`), 'the exported zone carries the TXT value');
    });

    it('/update refuses wrong credentials, another subdomain and bad values', async () => {
      const creds = { 'x-api-user': account.username, 'x-api-key': account.password };
      const wrongKey = await update(
        { ...creds, 'x-api-key': 'x'.repeat(40) },
        { subdomain: account.subdomain, txt: 'y'.repeat(43) },
      );
      assert.equal(wrongKey.statusCode, 401);
      assert.equal(json(wrongKey).error, 'forbidden');
      const other = await update(creds, { subdomain: 'someone-else', txt: 'y'.repeat(43) });
      assert.equal(other.statusCode, 401);
      const badTxt = await update(creds, { subdomain: account.subdomain, txt: 'a"b' });
      assert.equal(badTxt.statusCode, 400);
      assert.equal(json(badTxt).error, 'bad_txt');
      const values = (await api.cirrus.repos.acme.listTxt(Date.now())).filter(
        (t) => t.name === account.subdomain,
      );
      assert.equal(values.length, 1, 'nothing was added');
    });

    it('DELETE /update withdraws the values of the subdomain', async () => {
      const creds = { 'x-api-user': account.username, 'x-api-key': account.password };
      const res = await update(creds, { subdomain: account.subdomain }, 'DELETE');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(json(res), { removed: 1 });
      const values = (await api.cirrus.repos.acme.listTxt(Date.now())).filter(
        (t) => t.name === account.subdomain,
      );
      assert.equal(values.length, 0);
    });

    it('/health answers 200 with no body and no token', async () => {
      const res = await api.app.inject({ method: 'GET', url: '/health' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.body, '');
    });
  });

  describe('/healthz and /metrics', () => {
    it('/healthz needs no token and reports serial, zone, counts and store', async () => {
      const res = await api.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 200);
      const h = json(res);
      const s = api.cirrus.snapshots.current;
      assert.equal(h.status, 'ok');
      assert.equal(h.serial, s.serial);
      assert.equal(h.zone, ZONE);
      assert.equal(h.domains, 1);
      assert.equal(h.nodes, 3);
      assert.equal(h.store, 'embedded');
      assert.ok(h.snapshotAgeSeconds >= 0);
      assert.equal(h.dnsWorkers, undefined);
    });

    it('/metrics needs no token and exposes the serial being served', async () => {
      const res = await api.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /^text\/plain/);
      assert.match(
        res.body,
        new RegExp(`^cirrus_zone_serial ${api.cirrus.snapshots.current.serial}$`, 'm'),
      );
      assert.match(res.body, /^# TYPE cirrus_gslb_decisions_total counter$/m);
    });

    it('/docs/json describes every route group', async () => {
      const res = await api.app.inject({ method: 'GET', url: '/docs/json' });
      assert.equal(res.statusCode, 200);
      const paths = Object.keys(json(res).paths);
      for (const p of [
        '/api/v1/domains',
        '/api/v1/nodes',
        '/api/v1/tokens',
        '/api/v1/zone',
        '/api/v1/policy',
        '/api/v1/explain',
        '/api/v1/purge',
        '/api/v1/secondaries',
        '/register',
        '/healthz',
      ])
        assert.ok(paths.includes(p), p);
    });
  });
});

describe('edge routes via app.inject on the Redis store', () => {
  let redis: RedisServer;
  let api: ApiApp;
  let client: Redis;
  let listener: Redis;

  before(async () => {
    redis = await startRedis();
    api = await buildApiApp({ store: { redisUrl: redis.url } });
    client = new Redis(redis.url);
    listener = new Redis(redis.url);
    await api.call('PUT', '/api/v1/nodes/fra-1', { ipv4: '192.0.2.11' });
    await api.call('POST', '/api/v1/domains', {
      domain: 'www.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
  });
  after(async () => {
    listener?.disconnect();
    client?.disconnect();
    await api?.close();
    await redis?.stop();
  });

  it('POST /purge: 202, and the edge channel cdn:purge receives the message', async () => {
    const received: string[] = [];
    listener.on('message', (_channel: string, msg: string) => received.push(msg));
    await listener.subscribe('cdn:purge');
    const res = await api.call('POST', '/api/v1/purge', {
      urls: ['https://WWW.example.com/a?b=1'],
      domains: ['www.example.com'],
    });
    assert.equal(res.statusCode, 202, res.body);
    const body = json(res);
    assert.deepEqual(
      {
        urls: body.urls,
        prefixes: body.prefixes,
        domains: body.domains,
        receivers: body.receivers,
      },
      { urls: 1, prefixes: 0, domains: 1, receivers: 1 },
    );
    for (let i = 0; i < 50 && received.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    const msg = JSON.parse(received[0] as string);
    assert.equal(msg.id, body.id);
    assert.deepEqual(msg.urls, [{ domain: 'www.example.com', path: '/a?b=1' }]);
    assert.deepEqual(msg.domains, ['www.example.com']);
  });

  it('PUT, GET and DELETE a node override: stored as cdn:edge:{id}', async () => {
    const override = { redirect: { to: 'https://example.org', status: 302 } };
    const put = await api.call('PUT', '/api/v1/nodes/fra-1/edge', override);
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(JSON.parse((await client.get('cdn:edge:fra-1')) as string), override);
    assert.deepEqual(json(await api.call('GET', '/api/v1/nodes/fra-1/edge')), override);
    const bad = await api.call('PUT', '/api/v1/nodes/fra-1/edge', { redirect: { to: 'ftp://x' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(json(bad).field, 'body.redirect.to');
    assert.equal((await api.call('DELETE', '/api/v1/nodes/fra-1/edge')).statusCode, 204);
    assert.equal(await client.get('cdn:edge:fra-1'), null);
    assert.deepEqual(json(await api.call('GET', '/api/v1/nodes/fra-1/edge')), {});
  });
});
