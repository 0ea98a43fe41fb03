// The admin API over real HTTP against a listening server, with every write checked over
// real DNS (dig) right after the response: the API flushes the snapshot before answering.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig, type DigResult } from '../helpers/dig.js';

const ZONE = 'cdn.example.net';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `name ttl IN A addr` lines of the answer section, split. */
function records(res: DigResult, type = 'A'): Array<{ name: string; ttl: number; data: string }> {
  return res.answer
    .map((l) => l.split(' '))
    .filter((f) => f[3] === type)
    .map((f) => ({ name: f[0] as string, ttl: Number(f[1]), data: f.slice(4).join(' ') }));
}

/**
 * Asks until `check` passes; the API flushes the snapshot before it answers, so the first
 * dig must already pass, and 1 s is the hard limit. Returns the last result.
 */
async function digUntil(
  port: number,
  args: string[],
  check: (r: DigResult) => boolean,
  what: string,
): Promise<DigResult> {
  const deadline = Date.now() + 1000;
  let first = true;
  let firstMiss: DigResult | undefined;
  for (;;) {
    const r = await dig(port, args);
    if (check(r)) {
      assert.equal(
        firstMiss,
        undefined,
        `${what}: not visible on the first query after the API answered:\n${firstMiss?.raw}`,
      );
      return r;
    }
    if (first) firstMiss = r;
    first = false;
    if (Date.now() > deadline) assert.fail(`${what}: not visible over DNS within 1 s:\n${r.raw}`);
    await sleep(50);
  }
}

async function rawFetch(run: RunningCirrus, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(run.apiUrl + path, { headers });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get('content-type') ?? '' };
}

describe('admin API: authentication and open endpoints', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus();
  });
  after(() => run.stop());

  it('refuses /api/v1 without a token, naming the Authorization header', async () => {
    const res = await rawFetch(run, '/api/v1/domains');
    assert.equal(res.status, 401);
    const body = JSON.parse(res.text) as { error: string; message: string };
    assert.equal(body.error, 'UNAUTHORIZED');
    assert.match(body.message, /Authorization/);
  });

  it('refuses a wrong token and a malformed header', async () => {
    for (const authorization of [
      `Bearer ${run.token}x`,
      'Bearer cirrus_nope',
      run.token,
      'Basic dXNlcjpwYXNz',
    ]) {
      const res = await rawFetch(run, '/api/v1/nodes', { authorization });
      assert.equal(res.status, 401, authorization);
      assert.match((JSON.parse(res.text) as { message: string }).message, /Authorization/);
    }
    assert.equal(
      (await rawFetch(run, '/api/v1/nodes', { authorization: `Bearer ${run.token}` })).status,
      200,
    );
  });

  it('serves /healthz without a token', async () => {
    const res = await rawFetch(run, '/healthz');
    assert.equal(res.status, 200);
    const body = JSON.parse(res.text) as {
      status: string;
      zone: string;
      serial: number;
      store: string;
    };
    assert.equal(body.status, 'ok');
    assert.equal(body.zone, ZONE);
    assert.ok(body.serial > 0);
    assert.equal(body.store, 'embedded');
  });

  it('serves /metrics without a token, with snapshot and DNS counters', async () => {
    await dig(run.dnsPort, [ZONE, 'SOA']);
    const res = await rawFetch(run, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/plain/);
    assert.match(res.text, /^cirrus_snapshot_builds_total\{[^}]*result="ok"[^}]*\} [1-9]/m);
    assert.match(res.text, /^cirrus_dns_queries_total(\{[^}]*\})? [1-9]/m);
  });

  it('serves the docs UI as HTML and the OpenAPI document with the domain paths', async () => {
    const ui = await rawFetch(run, '/docs');
    const html = ui.status === 302 ? await rawFetch(run, '/docs/') : ui;
    assert.equal(html.status, 200);
    assert.match(html.type, /text\/html/);
    assert.match(html.text, /<html/i);
    const doc = await rawFetch(run, '/docs/json');
    assert.equal(doc.status, 200);
    const spec = JSON.parse(doc.text) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    assert.match(spec.openapi, /^3\./);
    assert.ok(spec.paths['/api/v1/domains'], `paths: ${Object.keys(spec.paths).join(', ')}`);
    assert.ok(spec.paths['/api/v1/domains']?.post);
    assert.ok(spec.paths['/api/v1/domains/{domain}']?.patch);
  });
});

describe('admin API: domains', () => {
  let run: RunningCirrus;
  const nodes = [
    { id: 'e1', ipv4: '192.0.2.1' },
    { id: 'e2', ipv4: '192.0.2.2' },
    { id: 'e3', ipv4: '192.0.2.3' },
  ];
  const edgeIps = new Set(nodes.map((n) => n.ipv4));
  before(async () => {
    run = await startCirrus();
    assert.equal((await api(run, 'PUT', '/api/v1/nodes', nodes)).status, 200);
  });
  after(() => run.stop());

  const base = `www-example-com.${ZONE}`;

  it('POST creates a domain (201) with its label and CNAME target, answered over DNS at once', async () => {
    const before = await dig(run.dnsPort, [base, 'A']);
    assert.equal(before.status, 'NXDOMAIN');
    const res = await api(run, 'POST', '/api/v1/domains', {
      domain: 'WWW.Example.com.',
      origins: [{ address: '203.0.113.10' }],
      ttl: 120,
      answers: 2,
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.equal(res.json.domain, 'www.example.com');
    assert.equal(res.json.label, 'www-example-com');
    assert.equal(res.json.cname, base);
    assert.equal(res.json.ttl, 120);
    assert.equal(res.json.serving.source, 'edges');
    assert.equal(res.json.serving.ipv4.length, 2);
    const r = await digUntil(
      run.dnsPort,
      [base, 'A'],
      (x) => x.status === 'NOERROR' && records(x).length === 2,
      'POST',
    );
    for (const rec of records(r)) {
      assert.equal(rec.ttl, 120);
      assert.ok(edgeIps.has(rec.data), rec.data);
    }
    assert.deepEqual(
      records(r)
        .map((x) => x.data)
        .sort(),
      [...res.json.serving.ipv4].sort(),
    );
    assert.ok(r.flags.includes('aa'));
  });

  it('doubles hyphens in labels: my-site.example.com → my--site-example-com', async () => {
    const res = await api(run, 'POST', '/api/v1/domains', {
      domain: 'my-site.example.com',
      origins: [{ address: 'origin.example.org' }],
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.equal(res.json.label, 'my--site-example-com');
    assert.equal(res.json.cname, `my--site-example-com.${ZONE}`);
    assert.equal(res.json.origins[0].address, 'origin.example.org');
    await digUntil(
      run.dnsPort,
      [res.json.cname, 'A'],
      (x) => records(x).length === 1 && edgeIps.has(records(x)[0]?.data as string),
      'POST my-site',
    );
  });

  it('refuses a duplicate with 409', async () => {
    const res = await api(run, 'POST', '/api/v1/domains', {
      domain: 'www.example.com',
      origins: [{ address: '203.0.113.99' }],
    });
    assert.equal(res.status, 409);
    assert.equal(res.json.error, 'CONFLICT');
    assert.match(res.json.message, /www\.example\.com/);
    const one = await api(run, 'GET', '/api/v1/domains/www.example.com');
    assert.equal(
      one.json.origins[0].address,
      '203.0.113.10',
      'the conflicting POST must not overwrite',
    );
  });

  it('GET lists all domains and reads one; an unknown one is 404', async () => {
    const list = await api(run, 'GET', '/api/v1/domains');
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.json as Array<{ domain: string }>).map((d) => d.domain),
      ['my-site.example.com', 'www.example.com'],
    );
    const one = await api(run, 'GET', '/api/v1/domains/www.example.com');
    assert.equal(one.status, 200);
    assert.equal(one.json.label, 'www-example-com');
    assert.equal(one.json.answers, 2);
    assert.deepEqual(one.json.origins, [
      { address: '203.0.113.10', protocol: 'http', weight: 1, backup: false },
    ]);
    const missing = await api(run, 'GET', '/api/v1/domains/nope.example.com');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'NOT_FOUND');
  });

  it('PUT replaces the whole configuration (omitted fields go back to defaults)', async () => {
    const res = await api(run, 'PUT', '/api/v1/domains/www.example.com', {
      origins: [{ address: '203.0.113.11', protocol: 'https', port: 443 }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.ttl, run.config.gslb.ttl);
    assert.equal(res.json.answers, 1);
    assert.deepEqual(res.json.origins, [
      { address: '203.0.113.11', protocol: 'https', port: 443, weight: 1, backup: false },
    ]);
    assert.equal(res.json.label, 'www-example-com', 'the label never changes');
    const r = await digUntil(
      run.dnsPort,
      [base, 'A'],
      (x) => records(x).length === 1 && records(x)[0]?.ttl === run.config.gslb.ttl,
      'PUT',
    );
    assert.ok(edgeIps.has(records(r)[0]?.data as string));
    const missing = await api(run, 'PUT', '/api/v1/domains/nope.example.com', {
      origins: [{ address: '203.0.113.11' }],
    });
    assert.equal(missing.status, 404);
  });

  it('PATCH changes only the fields given', async () => {
    const res = await api(run, 'PATCH', '/api/v1/domains/www.example.com', { ttl: 300 });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.ttl, 300);
    assert.equal(res.json.answers, 1);
    assert.deepEqual(res.json.origins, [
      { address: '203.0.113.11', protocol: 'https', port: 443, weight: 1, backup: false },
    ]);
    await digUntil(
      run.dnsPort,
      [base, 'A'],
      (x) => records(x).length === 1 && records(x)[0]?.ttl === 300,
      'PATCH ttl',
    );
    const res2 = await api(run, 'PATCH', '/api/v1/domains/www.example.com', { answers: 3 });
    assert.equal(res2.json.ttl, 300, 'an earlier PATCH survives a later one');
    const r = await digUntil(
      run.dnsPort,
      [base, 'A'],
      (x) => records(x).length === 3,
      'PATCH answers',
    );
    assert.deepEqual(new Set(records(r).map((x) => x.data)), edgeIps);
    assert.ok(records(r).every((x) => x.ttl === 300));
  });

  it('DELETE answers 204, then the domain is 404 and NXDOMAIN over DNS', async () => {
    const res = await api(run, 'DELETE', '/api/v1/domains/www.example.com');
    assert.equal(res.status, 204);
    assert.equal((await api(run, 'GET', '/api/v1/domains/www.example.com')).status, 404);
    assert.equal((await api(run, 'DELETE', '/api/v1/domains/www.example.com')).status, 404);
    const r = await digUntil(run.dnsPort, [base, 'A'], (x) => x.status === 'NXDOMAIN', 'DELETE');
    assert.equal(records(r).length, 0);
    assert.ok(
      r.authority.some((l) => / SOA /.test(l)),
      'NXDOMAIN carries the SOA (RFC 2308)',
    );
    const list = await api(run, 'GET', '/api/v1/domains');
    assert.deepEqual(
      (list.json as Array<{ domain: string }>).map((d) => d.domain),
      ['my-site.example.com'],
    );
  });

  describe('bad bodies are 400 naming the field', () => {
    const cases: Array<{ what: string; body: unknown; field: RegExp; message: RegExp }> = [
      {
        what: 'missing origins',
        body: { domain: 'a.example.com' },
        field: /origins/,
        message: /origins/,
      },
      {
        what: 'origin address neither IP nor host',
        body: { domain: 'b.example.com', origins: [{ address: 'not an address!' }] },
        field: /^(body\.)?origins\[0\]\.address$/,
        message: /origins\[0\]\.address/,
      },
      {
        what: 'second origin bad',
        body: {
          domain: 'b.example.com',
          origins: [{ address: '203.0.113.1' }, { address: '-bad-.example' }],
        },
        field: /^(body\.)?origins\[1\]\.address$/,
        message: /origins\[1\]\.address/,
      },
      {
        // Regression: an all-numeric top label passed as a host name, and the base name then
        // answered `CNAME 203.0.113.300.` instead of refusing the typo.
        what: 'origin address a mistyped IPv4 (203.0.113.300) is not taken for a host name',
        body: { domain: 'b.example.com', origins: [{ address: '203.0.113.300' }] },
        field: /^(body\.)?origins\[0\]\.address$/,
        message: /origins\[0\]\.address.*IP/,
      },
      {
        what: 'origin address a truncated IPv4 (10.0.0)',
        body: { domain: 'b.example.com', origins: [{ address: '10.0.0' }] },
        field: /^(body\.)?origins\[0\]\.address$/,
        message: /origins\[0\]\.address/,
      },
      {
        what: 'ttl 0',
        body: { domain: 'c.example.com', origins: [{ address: '203.0.113.1' }], ttl: 0 },
        field: /ttl$/,
        message: /ttl/,
      },
      {
        what: 'unknown property',
        body: { domain: 'd.example.com', origins: [{ address: '203.0.113.1' }], colour: 'blue' },
        field: /colour$/,
        message: /colour/,
      },
      {
        what: 'unknown origin property',
        body: { domain: 'd.example.com', origins: [{ address: '203.0.113.1', tls: true }] },
        field: /origins\[0\]\.tls$/,
        message: /tls/,
      },
      {
        what: 'domain inside the base zone',
        body: { domain: `shop.${ZONE}`, origins: [{ address: '203.0.113.1' }] },
        field: /^(body\.)?domain$/,
        message: new RegExp(ZONE.replace(/\./g, '\\.')),
      },
      {
        what: 'the base zone itself',
        body: { domain: ZONE, origins: [{ address: '203.0.113.1' }] },
        field: /^(body\.)?domain$/,
        message: /base zone/,
      },
      {
        what: 'domain not a host name',
        body: { domain: 'under_score..com', origins: [{ address: '203.0.113.1' }] },
        field: /domain$/,
        message: /domain/,
      },
    ];
    for (const c of cases) {
      it(c.what, async () => {
        const res = await api(run, 'POST', '/api/v1/domains', c.body);
        assert.equal(res.status, 400, JSON.stringify(res.json));
        assert.equal(typeof res.json.error, 'string');
        assert.match(res.json.field, c.field, JSON.stringify(res.json));
        assert.match(res.json.message, c.message, JSON.stringify(res.json));
      });
    }

    it('PATCH and PUT validate too, and leave the domain unchanged', async () => {
      const patch = await api(run, 'PATCH', '/api/v1/domains/my-site.example.com', {
        origins: [{ address: 'bad address' }],
      });
      assert.equal(patch.status, 400);
      assert.match(patch.json.field, /origins\[0\]\.address$/);
      const put = await api(run, 'PUT', '/api/v1/domains/my-site.example.com', { ttl: 30 });
      assert.equal(put.status, 400);
      assert.match(put.json.field, /origins/);
      const patchTtl = await api(run, 'PATCH', '/api/v1/domains/my-site.example.com', { ttl: 0 });
      assert.equal(patchTtl.status, 400);
      assert.match(patchTtl.json.field, /ttl$/);
      const one = await api(run, 'GET', '/api/v1/domains/my-site.example.com');
      assert.equal(one.json.origins[0].address, 'origin.example.org');
      assert.equal(one.json.ttl, run.config.gslb.ttl);
    });

    it('none of the refused bodies created anything', async () => {
      const list = await api(run, 'GET', '/api/v1/domains');
      assert.deepEqual(
        (list.json as Array<{ domain: string }>).map((d) => d.domain),
        ['my-site.example.com'],
      );
    });
  });
});

describe('admin API: nodes and failover', () => {
  let run: RunningCirrus;
  const FAILOVER_TTL = 15;
  before(async () => {
    run = await startCirrus({ gslb: { failoverTtl: FAILOVER_TTL } });
  });
  after(() => run.stop());

  const ids = async () =>
    ((await api(run, 'GET', '/api/v1/nodes')).json as Array<{ id: string }>).map((n) => n.id);

  it('PUT /nodes replaces the whole list', async () => {
    const first = await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'old-1', ipv4: '192.0.2.101' },
      { id: 'old-2', ipv4: '192.0.2.102' },
    ]);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.deepEqual(await ids(), ['old-1', 'old-2']);
    const d = await api(run, 'POST', '/api/v1/domains', {
      domain: 'shop.example.com',
      origins: [{ address: '203.0.113.50' }],
      answers: 4,
    });
    assert.equal(d.status, 201);
    await digUntil(
      run.dnsPort,
      [d.json.cname, 'A'],
      (x) => records(x).length === 2,
      'two old nodes',
    );

    const second = await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'n-c', ipv4: '192.0.2.3', ipv6: '2001:db8::3', pool: 'fra', region: 'eu', weight: 50 },
      { id: 'n-a', ipv4: '192.0.2.1' },
      { id: 'n-b', ipv4: '192.0.2.2' },
    ]);
    assert.equal(second.status, 200);
    assert.deepEqual(
      (second.json as Array<{ id: string }>).map((n) => n.id),
      ['n-a', 'n-b', 'n-c'],
    );
    assert.deepEqual(await ids(), ['n-a', 'n-b', 'n-c']);
    assert.equal((await api(run, 'GET', '/api/v1/nodes/old-1')).status, 404);
    const c = await api(run, 'GET', '/api/v1/nodes/n-c');
    assert.deepEqual(c.json, {
      id: 'n-c',
      ipv4: '192.0.2.3',
      ipv6: '2001:db8::3',
      pool: 'fra',
      region: 'eu',
      weight: 50,
      active: true,
      mode: 'auto',
      activeBy: 'api',
    });
    const r = await digUntil(
      run.dnsPort,
      [`shop-example-com.${ZONE}`, 'A'],
      (x) => records(x).length === 3,
      'replaced nodes',
    );
    assert.deepEqual(
      records(r)
        .map((x) => x.data)
        .sort(),
      ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
    );
    const v6 = await dig(run.dnsPort, [`shop-example-com.${ZONE}`, 'AAAA']);
    assert.deepEqual(
      records(v6, 'AAAA').map((x) => x.data),
      ['2001:db8::3'],
    );
  });

  it('refuses duplicate ids naming [i].id, and leaves the list alone', async () => {
    const res = await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'x', ipv4: '192.0.2.7' },
      { id: 'y', ipv4: '192.0.2.8' },
      { id: 'x', ipv4: '192.0.2.9' },
    ]);
    assert.equal(res.status, 400);
    assert.equal(res.json.field, '[2].id');
    assert.match(res.json.message, /\[2\]\.id/);
    assert.deepEqual(await ids(), ['n-a', 'n-b', 'n-c']);
  });

  it('refuses a node with neither ipv4 nor ipv6', async () => {
    const res = await api(run, 'PUT', '/api/v1/nodes', [
      { id: 'ok', ipv4: '192.0.2.7' },
      { id: 'bare' },
    ]);
    assert.equal(res.status, 400);
    assert.match(res.json.field, /^\[1\]\.ipv[46]$/);
    assert.match(res.json.message, /ipv4/);
    const one = await api(run, 'PUT', '/api/v1/nodes/bare', { pool: 'fra' });
    assert.equal(one.status, 400);
    assert.match(one.json.message, /ipv4/);
    const badIp = await api(run, 'PUT', '/api/v1/nodes', [{ id: 'ok', ipv4: '2001:db8::1' }]);
    assert.equal(badIp.status, 400);
    assert.match(badIp.json.field, /\[0\]\.ipv4/);
    assert.deepEqual(await ids(), ['n-a', 'n-b', 'n-c']);
  });

  it('PUT /nodes/{id} creates (201) then replaces (200)', async () => {
    const created = await api(run, 'PUT', '/api/v1/nodes/n-d', { ipv4: '192.0.2.4', weight: 10 });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.id, 'n-d');
    assert.equal(created.json.active, true);
    const replaced = await api(run, 'PUT', '/api/v1/nodes/n-d', { ipv4: '192.0.2.44' });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.json.weight, 100, 'PUT replaces: weight back to its default');
    assert.equal(replaced.json.ipv4, '192.0.2.44');
    const r = await digUntil(
      run.dnsPort,
      [`shop-example-com.${ZONE}`, 'A'],
      (x) => records(x).length === 4,
      'PUT node',
    );
    assert.ok(records(r).some((x) => x.data === '192.0.2.44'));
    assert.ok(!records(r).some((x) => x.data === '192.0.2.4'));
    const del = await api(run, 'DELETE', '/api/v1/nodes/n-d');
    assert.equal(del.status, 204);
    assert.equal((await api(run, 'DELETE', '/api/v1/nodes/n-d')).status, 404);
    await digUntil(
      run.dnsPort,
      [`shop-example-com.${ZONE}`, 'A'],
      (x) => records(x).length === 3,
      'DELETE node',
    );
  });

  it('PATCH active=false takes a node out of answers; the domain falls back to another node', async () => {
    const d = await api(run, 'POST', '/api/v1/domains', {
      domain: 'one.example.com',
      origins: [{ address: '203.0.113.60' }],
    });
    assert.equal(d.status, 201);
    const name = d.json.cname as string;
    const first = records(await dig(run.dnsPort, [name, 'A']));
    assert.equal(first.length, 1);
    const ipToId: Record<string, string> = {
      '192.0.2.1': 'n-a',
      '192.0.2.2': 'n-b',
      '192.0.2.3': 'n-c',
    };
    const winner = ipToId[first[0]?.data as string];
    assert.ok(winner, `answer ${first[0]?.data} is not an edge`);
    const patched = await api(run, 'PATCH', `/api/v1/nodes/${winner}`, { active: false });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.active, false);
    assert.equal(typeof patched.json.ipv4, 'string', 'PATCH keeps the other fields');
    const r = await digUntil(
      run.dnsPort,
      [name, 'A'],
      (x) => records(x).length === 1 && records(x)[0]?.data !== first[0]?.data,
      'PATCH inactive',
    );
    const now = records(r)[0];
    assert.ok(now && ipToId[now.data] && ipToId[now.data] !== winner, `fell back to ${now?.data}`);
    assert.equal(now.ttl, run.config.gslb.ttl, 'another edge answers with the normal TTL');
    const back = await api(run, 'PATCH', `/api/v1/nodes/${winner}`, { active: true });
    assert.equal(back.status, 200);
    await digUntil(
      run.dnsPort,
      [name, 'A'],
      (x) => records(x)[0]?.data === first[0]?.data,
      'PATCH active again',
    );
    assert.equal((await api(run, 'PATCH', '/api/v1/nodes/nope', { active: false })).status, 404);
  });

  it('with every node inactive the answer is the origin (backup preferred) at the failover TTL', async () => {
    const plain = await api(run, 'POST', '/api/v1/domains', {
      domain: 'plain.example.com',
      origins: [{ address: '203.0.113.70' }],
      ttl: 300,
    });
    const backed = await api(run, 'POST', '/api/v1/domains', {
      domain: 'backed.example.com',
      origins: [{ address: '203.0.113.80' }, { address: '203.0.113.81', backup: true }],
      ttl: 300,
    });
    assert.equal(plain.status, 201);
    assert.equal(backed.status, 201);
    for (const id of ['n-a', 'n-b', 'n-c']) {
      assert.equal((await api(run, 'PATCH', `/api/v1/nodes/${id}`, { active: false })).status, 200);
    }
    const p = await digUntil(
      run.dnsPort,
      [plain.json.cname, 'A'],
      (x) => records(x)[0]?.data === '203.0.113.70',
      'origin fallback',
    );
    assert.deepEqual(records(p), [
      { name: `${plain.json.cname}.`, ttl: FAILOVER_TTL, data: '203.0.113.70' },
    ]);
    const b = await digUntil(
      run.dnsPort,
      [backed.json.cname, 'A'],
      (x) => records(x).length > 0,
      'backup fallback',
    );
    assert.deepEqual(records(b), [
      { name: `${backed.json.cname}.`, ttl: FAILOVER_TTL, data: '203.0.113.81' },
    ]);
    const view = await api(run, 'GET', '/api/v1/domains/backed.example.com');
    assert.equal(view.json.serving.source, 'origin');
    assert.deepEqual(view.json.serving.ipv4, ['203.0.113.81']);
    assert.equal((await api(run, 'PATCH', '/api/v1/nodes/n-b', { active: true })).status, 200);
    const again = await digUntil(
      run.dnsPort,
      [backed.json.cname, 'A'],
      (x) => records(x)[0]?.data === '192.0.2.2',
      'edge back',
    );
    assert.equal(records(again)[0]?.ttl, 300);
  });
});

describe('admin API: tokens', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus();
  });
  after(() => run.stop());

  it('POST creates a working token, GET lists without secrets, DELETE revokes it', async () => {
    const created = await api(run, 'POST', '/api/v1/tokens', { name: 'ci' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const { token, id } = created.json as { token: string; id: string };
    assert.match(token, /^cirrus_/);
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await rawFetch(run, '/api/v1/domains', auth)).status, 200);

    const list = await api(run, 'GET', '/api/v1/tokens');
    assert.equal(list.status, 200);
    const mine = (list.json as Array<Record<string, unknown>>).find((t) => t.id === id);
    assert.deepEqual(Object.keys(mine ?? {}).sort(), ['createdAt', 'id', 'name']);
    assert.equal(mine?.name, 'ci');
    assert.ok(!JSON.stringify(list.json).includes(token), 'the list must not hold a secret');
    assert.ok(!JSON.stringify(list.json).includes(token.slice(7, 30)));
    assert.equal((list.json as unknown[]).length, 2, 'the test token and the new one');

    const del = await api(run, 'DELETE', `/api/v1/tokens/${id}`);
    assert.equal(del.status, 204);
    const after = await rawFetch(run, '/api/v1/domains', auth);
    assert.equal(after.status, 401);
    assert.equal((await api(run, 'DELETE', `/api/v1/tokens/${id}`)).status, 404);
    assert.equal((await api(run, 'GET', '/api/v1/tokens')).status, 200, 'other tokens still work');
  });

  it('refuses a token without a name', async () => {
    const res = await api(run, 'POST', '/api/v1/tokens', {});
    assert.equal(res.status, 400);
    assert.match(res.json.field, /name/);
  });
});

describe('admin API: zone', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus();
  });
  after(() => run.stop());

  const good = ['$TTL 300', 'status IN A 198.51.100.10', '@ IN TXT "v=spf1 -all"', ''].join('\n');

  it('PUT /zone/records stores static records that are then served', async () => {
    const res = await api(run, 'PUT', '/api/v1/zone/records', good);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.ok(res.json.records >= 2);
    const r = await digUntil(
      run.dnsPort,
      [`status.${ZONE}`, 'A'],
      (x) => records(x)[0]?.data === '198.51.100.10',
      'zone records',
    );
    assert.equal(records(r)[0]?.ttl, 300);
    const text = await api(run, 'GET', '/api/v1/zone/records');
    assert.equal(text.json, good);
    const zone = await api(run, 'GET', '/api/v1/zone');
    assert.equal(zone.status, 200);
    assert.match(
      zone.json as string,
      /status\.cdn\.example\.net\.\s+300\s+IN\s+A\s+198\.51\.100\.10/,
    );
  });

  it('a bad zone text is 400 naming the line, and the old records keep serving', async () => {
    const serial = (await api(run, 'GET', '/healthz')).json.serial as number;
    const bad = ['$TTL 300', 'status IN A 198.51.100.11', 'broken IN A not-an-ip', ''].join('\n');
    const res = await api(run, 'PUT', '/api/v1/zone/records', bad);
    assert.equal(res.status, 400);
    assert.match(res.json.message, /line 3/);
    assert.equal(res.json.field, 'body');
    const r = await dig(run.dnsPort, [`status.${ZONE}`, 'A']);
    assert.deepEqual(
      records(r).map((x) => x.data),
      ['198.51.100.10'],
    );
    assert.equal((await api(run, 'GET', '/api/v1/zone/records')).json, good);
    assert.equal(
      (await api(run, 'GET', '/healthz')).json.serial,
      serial,
      'a refused change takes no serial',
    );
    const soa = await api(run, 'PUT', '/api/v1/zone/records', `@ IN SOA a. b. 1 2 3 4 5\n`);
    assert.equal(soa.status, 400);
    assert.match(soa.json.message, /SOA/);
  });
});
