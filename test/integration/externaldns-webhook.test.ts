// The ExternalDNS webhook API against its published contract and against DNS. The contract
// part checks each path, method, media type and status code of external-dns's
// api/webhook.yaml (v0.22.0-12-g2bf1bf8af, transcribed below as JSON Schema) plus what
// provider/webhook/webhook.go checks beyond it (the exact Content-Type at negotiation, 204
// on apply, 4xx not retried, 413 above the body cap). The end-to-end part posts change sets
// built byte for byte as ExternalDNS's client marshals them (with the TXT registry's
// ownership records) and reads the result back with the real `dig`, then deletes it again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import {
  MEDIA_TYPE,
  WebhookClient,
  marshalChanges,
  marshalEndpoints,
  ownershipTxt,
  withOwnership,
  type GoEndpoint,
} from '../helpers/externaldns-client.js';

const ZONE = 'cdn.example.net';

// components/schemas of api/webhook.yaml as JSON Schema (OpenAPI 3.0 schema objects).
const endpoint = {
  type: 'object',
  properties: {
    dnsName: { type: 'string' },
    targets: { type: 'array', items: { type: 'string' } },
    recordType: { type: 'string' },
    setIdentifier: { type: 'string' },
    recordTTL: { type: 'integer' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    providerSpecific: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, value: { type: 'string' } },
      },
    },
  },
};
const endpoints = { type: 'array', items: endpoint };
const filters = {
  type: 'object',
  properties: { filters: { type: 'array', items: { type: 'string' } } },
};
const ajv = new Ajv({ strict: true });
// Plain predicates: the compiled guards would narrow the tests' `any` bodies to unknown.
const endpointsCheck = ajv.compile(endpoints);
const filtersCheck = ajv.compile(filters);
const validEndpoints = Object.assign((v: unknown): boolean => endpointsCheck(v), {
  get errors() {
    return endpointsCheck.errors;
  },
});
const validFilters = Object.assign((v: unknown): boolean => filtersCheck(v), {
  get errors() {
    return filtersCheck.errors;
  },
});

// `any`: responses are asserted field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function call(
  base: string,
  method: string,
  path: string,
  opts: { body?: string; contentType?: string; accept?: string } = {},
): Promise<{ status: number; type: string | null; text: string; json: Json }> {
  const headers: Record<string, string> = {};
  if (opts.contentType) headers['content-type'] = opts.contentType;
  if (opts.accept) headers.accept = opts.accept;
  const res = await fetch(base + path, {
    method,
    headers,
    ...(opts.body === undefined ? {} : { body: opts.body }),
  });
  const text = await res.text();
  let json: Json = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // empty (204) or not JSON
  }
  return { status: res.status, type: res.headers.get('content-type'), text, json };
}

const A = (name: string, ...targets: string[]): GoEndpoint => ({
  dnsName: name,
  targets,
  recordType: 'A',
});

describe('ExternalDNS webhook API', { timeout: 120_000 }, () => {
  let run: RunningCirrus;
  let base: string;
  let client: WebhookClient;

  before(async () => {
    run = await startCirrus({
      externalDns: { enabled: true, listen: '127.0.0.1:0', maxBodyBytes: 64 * 1024 },
    });
    const a = run.cirrus.externalDnsAddress as { host: string; port: number };
    base = `http://${a.host}:${a.port}`;
    client = new WebhookClient(base);
    // One edge node, so a GSLB domain's base name answers with an edge, not its origin.
    const put = await api(run, 'PUT', '/api/v1/nodes/edge-1', {
      ipv4: '198.51.100.10',
      active: true,
    });
    assert.ok(put.status < 300, JSON.stringify(put.json));
    // A domain made through the admin API: its base name is not ExternalDNS's to write.
    const made = await api(run, 'POST', '/api/v1/domains', {
      domain: 'api.example.org',
      origins: [{ address: '203.0.113.50' }],
    });
    assert.equal(made.status, 201, JSON.stringify(made.json));
  });
  after(async () => run?.stop());

  describe('contract (api/webhook.yaml)', () => {
    it('GET / negotiates: 200, the exact media type, the domain filter', async () => {
      const r = await call(base, 'GET', '/', { accept: MEDIA_TYPE });
      assert.equal(r.status, 200);
      assert.equal(r.type, MEDIA_TYPE);
      assert.ok(validFilters(r.json), JSON.stringify(validFilters.errors));
      assert.deepEqual(r.json.filters, [ZONE]);
      // What external-dns's endpoint.DomainFilter decodes.
      assert.deepEqual(await client.negotiate(), {
        include: [ZONE],
        exclude: [`acme.${ZONE}`],
        filters: [ZONE],
      });
    });

    it('an Accept that excludes the media type gets 406; */* and no Accept are served', async () => {
      for (const accept of [
        'text/html',
        'application/json',
        'application/external.dns.webhook+json;version=2',
        `${MEDIA_TYPE};q=0`,
      ]) {
        const r = await call(base, 'GET', '/records', { accept });
        assert.equal(r.status, 406, accept);
        assert.match(r.json.message, /external\.dns\.webhook\+json;version=1/);
      }
      for (const accept of ['*/*', 'application/*', `text/html, ${MEDIA_TYPE}`]) {
        assert.equal((await call(base, 'GET', '/', { accept })).status, 200, accept);
      }
      assert.equal((await call(base, 'GET', '/records')).status, 200);
    });

    it('GET /records: 200, the media type, an array of endpoints', async () => {
      const r = await call(base, 'GET', '/records', { accept: MEDIA_TYPE });
      assert.equal(r.status, 200);
      assert.equal(r.type, MEDIA_TYPE);
      assert.ok(validEndpoints(r.json), JSON.stringify(validEndpoints.errors));
      // The admin API's domain shows as its base name with the domain property.
      assert.deepEqual(
        r.json.find((e: Json) => e.dnsName === `api-example-org.${ZONE}`),
        {
          dnsName: `api-example-org.${ZONE}`,
          targets: ['203.0.113.50'],
          recordType: 'A',
          recordTTL: 60,
          providerSpecific: [{ name: 'webhook/cirrus-domain', value: 'api.example.org' }],
        },
      );
    });

    it('POST /adjustendpoints: 200, normalised endpoints; what Cirrus cannot hold is left out', async () => {
      const input: GoEndpoint[] = [
        { ...A('Web.CDN.example.net.', '192.0.2.1'), recordTTL: 120, labels: { owner: 'k8s' } },
        A('www.example.org', '192.0.2.2'), // outside the zone
        { dnsName: ZONE, targets: ['ns9.example.org'], recordType: 'NS' }, // apex NS
        { dnsName: ZONE, targets: ['x'], recordType: 'SOA' }, // not a type it serves
        A(`api-example-org.${ZONE}`, '192.0.2.3'), // base name of a domain
        A(`ns1.${ZONE}`, '192.0.2.4'), // the zone's name server
        A(`x.acme.${ZONE}`, '192.0.2.5'), // the ACME challenge zone
        { ...A(`w.${ZONE}`, '192.0.2.6'), setIdentifier: 'eu' },
        A(`bad.${ZONE}`, '192.0.2.300'),
        {
          ...A(`shop.${ZONE}`, '192.0.2.7'),
          providerSpecific: [
            { name: 'cirrus/domain', value: 'Shop.Example.com' },
            { name: 'aws/evaluate-target-health', value: 'true' },
          ],
        },
        { ...A(`plain.${ZONE}`, '192.0.2.8'), providerSpecific: [{ name: 'aws/x', value: '1' }] },
      ];
      const r = await call(base, 'POST', '/adjustendpoints', {
        body: marshalEndpoints(input),
        contentType: MEDIA_TYPE,
        accept: MEDIA_TYPE,
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.type, MEDIA_TYPE);
      assert.ok(validEndpoints(r.json), JSON.stringify(validEndpoints.errors));
      assert.deepEqual(r.json, [
        {
          dnsName: `web.${ZONE}`,
          targets: ['192.0.2.1'],
          recordType: 'A',
          recordTTL: 120,
          labels: { owner: 'k8s' },
        },
        {
          dnsName: `shop.${ZONE}`,
          targets: ['192.0.2.7'],
          recordType: 'A',
          providerSpecific: [{ name: 'webhook/cirrus-domain', value: 'shop.example.com' }],
        },
        { dnsName: `plain.${ZONE}`, targets: ['192.0.2.8'], recordType: 'A' },
      ]);
      // A nil slice from Go arrives as null.
      const empty = await call(base, 'POST', '/adjustendpoints', {
        body: marshalEndpoints(null),
        contentType: MEDIA_TYPE,
        accept: MEDIA_TYPE,
      });
      assert.deepEqual([empty.status, empty.json], [200, []]);
      const metrics = await (await fetch(`${run.apiUrl}/metrics`)).text();
      for (const reason of ['outside_zone', 'reserved_name', 'base_name', 'set_identifier']) {
        assert.match(
          metrics,
          new RegExp(`cirrus_externaldns_endpoints_refused_total\\{reason="${reason}"\\} [1-9]`),
        );
      }
    });

    it('POST /records: 4xx naming the field for what it refuses, nothing written', async () => {
      const cases: [string, string, number, RegExp][] = [
        [
          marshalChanges({ create: [A('www.example.org', '192.0.2.2')] }),
          MEDIA_TYPE,
          400,
          /create\[0\]\.dnsName/,
        ],
        [
          marshalChanges({
            create: [A(`ok.${ZONE}`, '192.0.2.2')],
            delete: [{ dnsName: ZONE, targets: [`ns1.${ZONE}`], recordType: 'NS' }],
          }),
          MEDIA_TYPE,
          400,
          /delete\[0\]\.dnsName/,
        ],
        [
          marshalChanges({ create: [A(`api-example-org.${ZONE}`, '192.0.2.9')] }),
          MEDIA_TYPE,
          400,
          /base name of the GSLB domain api\.example\.org/,
        ],
        [
          marshalChanges({ create: [A(`ok.${ZONE}`, 'not-an-ip')] }),
          MEDIA_TYPE,
          400,
          /create\[0\]\.targets\[0\]/,
        ],
        [
          marshalChanges({
            create: [
              {
                dnsName: `shop.${ZONE}`,
                targets: ['192.0.2.1'],
                recordType: 'A',
                providerSpecific: [{ name: 'webhook/cirrus-domain', value: `x.${ZONE}` }],
              },
            ],
          }),
          MEDIA_TYPE,
          400,
          /providerSpecific/,
        ],
        // CNAME and other data at one name (RFC 1034 §3.6.2): the trial build refuses it.
        [
          marshalChanges({
            create: [
              A(`both.${ZONE}`, '192.0.2.1'),
              { dnsName: `both.${ZONE}`, targets: ['example.org'], recordType: 'CNAME' },
            ],
          }),
          MEDIA_TYPE,
          400,
          /CNAME and other data/,
        ],
        ['{"create": [', MEDIA_TYPE, 400, /JSON/i],
        ['{"create": 5}', MEDIA_TYPE, 400, /body\.create/],
        [marshalChanges({ create: [A(`ok.${ZONE}`, '192.0.2.2')] }), 'text/plain', 415, /./],
        [
          marshalChanges({ create: [A(`ok.${ZONE}`, '192.0.2.2')] }),
          'application/external.dns.webhook+json;version=2',
          415,
          /version 2/,
        ],
      ];
      for (const [body, contentType, status, message] of cases) {
        const r = await call(base, 'POST', '/records', { body, contentType });
        assert.equal(r.status, status, `${body} → ${r.text}`);
        assert.match(r.json.message, message, r.text);
      }
      const records = await client.records();
      assert.ok(!records.some((e) => e.dnsName === `ok.${ZONE}` || e.dnsName === `both.${ZONE}`));
    });

    it('a body above externalDns.maxBodyBytes gets 413', async () => {
      const many = Array.from({ length: 2000 }, (_, i) => A(`n${i}.${ZONE}`, '192.0.2.1'));
      const r = await call(base, 'POST', '/records', {
        body: marshalChanges({ create: many }),
        contentType: MEDIA_TYPE,
      });
      assert.equal(r.status, 413);
    });

    it('GET /healthz: 200 without any Accept', async () => {
      const r = await call(base, 'GET', '/healthz', { accept: 'text/plain' });
      assert.equal(r.status, 200);
      assert.equal(r.json.status, 'ok');
      assert.equal(typeof r.json.serial, 'number');
    });
  });

  describe('end to end: change sets as ExternalDNS posts them, answered by dig', () => {
    const shop = `shop.${ZONE}`;
    const labels = { resource: 'ingress/default/shop' };

    it('creates records with their ownership TXT, answered over DNS and listed back', async () => {
      await client.negotiate();
      const desired = await client.adjustEndpoints([
        { ...A(shop, '192.0.2.7', '192.0.2.17'), recordTTL: 300, labels },
        { dnsName: `www.${ZONE}`, targets: [shop], recordType: 'CNAME', labels },
        { dnsName: `v6.${ZONE}`, targets: ['2001:db8::7'], recordType: 'AAAA', labels },
        { dnsName: `mail.${ZONE}`, targets: [`10 mx.${ZONE}`], recordType: 'MX', labels },
        { dnsName: `say.${ZONE}`, targets: ['hello <world> & "you"'], recordType: 'TXT', labels },
      ]);
      assert.equal(desired.length, 5);
      await client.applyChanges(withOwnership({ create: desired }));

      const a = await dig(run.dnsPort, [shop, 'A', '+norec']);
      assert.equal(a.status, 'NOERROR');
      assert.ok(a.flags.includes('aa'));
      assert.deepEqual(a.answer.sort(), [
        `${shop}. 300 IN A 192.0.2.17`,
        `${shop}. 300 IN A 192.0.2.7`,
      ]);
      const cname = await dig(run.dnsPort, [`www.${ZONE}`, 'A', '+norec']);
      assert.equal(cname.answer[0], `www.${ZONE}. 3600 IN CNAME ${shop}.`);
      assert.equal(cname.answer.length, 3);
      assert.deepEqual(
        (await dig(run.dnsPort, [`v6.${ZONE}`, 'AAAA', '+short'])).raw.trim(),
        '2001:db8::7',
      );
      assert.equal(
        (await dig(run.dnsPort, [`mail.${ZONE}`, 'MX', '+short'])).raw.trim(),
        `10 mx.${ZONE}.`,
      );
      assert.equal(
        (await dig(run.dnsPort, [`say.${ZONE}`, 'TXT', '+short'])).raw.trim(),
        '"hello <world> & \\"you\\""',
      );
      const owner = await dig(run.dnsPort, [`a-shop.${ZONE}`, 'TXT', '+short']);
      assert.equal(
        owner.raw.trim(),
        `"heritage=external-dns,external-dns/owner=default,external-dns/resource=ingress/default/shop"`,
      );

      // What the TXT registry reads back: each record, and its ownership TXT to parse.
      const records = await client.records();
      const byName = (n: string, t: string) =>
        records.find((e) => e.dnsName === n && e.recordType === t);
      assert.deepEqual(byName(shop, 'A'), {
        dnsName: shop,
        targets: ['192.0.2.7', '192.0.2.17'],
        recordType: 'A',
        recordTTL: 300,
      });
      assert.deepEqual(byName(`www.${ZONE}`, 'CNAME')?.targets, [shop]);
      assert.deepEqual(byName(`mail.${ZONE}`, 'MX')?.targets, [`10 mx.${ZONE}`]);
      assert.deepEqual(byName(`say.${ZONE}`, 'TXT')?.targets, ['hello <world> & "you"']);
      const txt = byName(`a-shop.${ZONE}`, 'TXT')?.targets?.[0] ?? '';
      assert.equal(`"${txt}"`, ownershipTxt({ ...labels, owner: 'default' }));
    });

    it('updates an RRset (updateOld/updateNew): dig sees the new targets and TTL', async () => {
      await client.applyChanges({
        updateOld: [
          {
            ...A(shop, '192.0.2.7', '192.0.2.17'),
            recordTTL: 300,
            labels: { ...labels, owner: 'default' },
          },
        ],
        updateNew: [
          { ...A(shop, '192.0.2.8'), recordTTL: 30, labels: { ...labels, owner: 'default' } },
        ],
      });
      const a = await dig(run.dnsPort, [shop, 'A', '+norec']);
      assert.deepEqual(a.answer, [`${shop}. 30 IN A 192.0.2.8`]);
    });

    it('maps an endpoint with webhook/cirrus-domain to a GSLB domain answered with an edge', async () => {
      const gslb = `www-example-com.${ZONE}`;
      const ps = [{ name: 'webhook/cirrus-domain', value: 'www.example.com' }];
      const desired = await client.adjustEndpoints([
        { ...A(gslb, '203.0.113.10'), providerSpecific: ps, labels },
        {
          dnsName: gslb,
          targets: ['2001:db8::10'],
          recordType: 'AAAA',
          providerSpecific: ps,
          labels,
        },
      ]);
      await client.applyChanges(withOwnership({ create: desired }));
      const d = await api(run, 'GET', '/api/v1/domains/www.example.com');
      assert.equal(d.status, 200);
      assert.equal(d.json.label, 'www-example-com');
      assert.deepEqual(
        d.json.origins.map((o: Json) => o.address),
        ['203.0.113.10', '2001:db8::10'],
      );
      // The base name answers with the edge node (GSLB), not with the origin.
      const a = await dig(run.dnsPort, [gslb, 'A', '+norec', '+short']);
      assert.equal(a.raw.trim(), '198.51.100.10');
      // Its ownership TXT is a plain static record beside it.
      assert.match(
        (await dig(run.dnsPort, [`a-www-example-com.${ZONE}`, 'TXT', '+short'])).raw,
        /heritage=external-dns/,
      );
      const listed = (await client.records()).filter((e) => e.dnsName === gslb);
      assert.deepEqual(listed, [
        {
          dnsName: gslb,
          targets: ['203.0.113.10'],
          recordType: 'A',
          recordTTL: 60,
          providerSpecific: ps,
        },
        {
          dnsName: gslb,
          targets: ['2001:db8::10'],
          recordType: 'AAAA',
          recordTTL: 60,
          providerSpecific: ps,
        },
      ]);
      // Listed back the way it was asked for, the plan has nothing to change.
      assert.deepEqual(
        desired.map((e) => [e.dnsName, e.recordType, e.targets, e.providerSpecific]),
        listed.map((e) => [e.dnsName, e.recordType, e.targets, e.providerSpecific]),
      );

      // A plain record on that base name is refused now that it is a domain's.
      const r = await call(base, 'POST', '/records', {
        body: marshalChanges({ create: [{ dnsName: gslb, targets: ['x'], recordType: 'TXT' }] }),
        contentType: MEDIA_TYPE,
      });
      assert.equal(r.status, 400);
      assert.equal(r.json.field, 'create[0].dnsName');

      // Deleting the A endpoint removes the IPv4 origin; deleting the AAAA one the domain.
      const owner = { ...labels, owner: 'default' };
      await client.applyChanges(
        withOwnership({
          delete: [{ ...A(gslb, '203.0.113.10'), providerSpecific: ps, labels: owner }],
        }),
      );
      const after1 = await api(run, 'GET', '/api/v1/domains/www.example.com');
      assert.deepEqual(
        after1.json.origins.map((o: Json) => o.address),
        ['2001:db8::10'],
      );
      await client.applyChanges(
        withOwnership({
          delete: [
            {
              dnsName: gslb,
              targets: ['2001:db8::10'],
              recordType: 'AAAA',
              providerSpecific: ps,
              labels: owner,
            },
          ],
        }),
      );
      assert.equal((await api(run, 'GET', '/api/v1/domains/www.example.com')).status, 404);
      const gone = await dig(run.dnsPort, [gslb, 'A', '+norec']);
      assert.equal(gone.status, 'NXDOMAIN');
    });

    it('moves a name from a plain record to a GSLB domain and back in one update each', async () => {
      const name = `move.${ZONE}`;
      const plain = A(name, '192.0.2.30');
      const gslb = {
        ...A(name, '192.0.2.30'),
        providerSpecific: [{ name: 'webhook/cirrus-domain', value: 'move.example.com' }],
      };
      await client.applyChanges({ create: [plain] });
      assert.equal((await dig(run.dnsPort, [name, 'A', '+short'])).raw.trim(), '192.0.2.30');
      // The annotation added: ExternalDNS's plan sees a providerSpecific change, an update.
      await client.applyChanges({ updateOld: [plain], updateNew: [gslb] });
      assert.equal((await dig(run.dnsPort, [name, 'A', '+short'])).raw.trim(), '198.51.100.10');
      assert.equal((await api(run, 'GET', '/api/v1/domains/move.example.com')).json.label, 'move');
      // And removed again.
      await client.applyChanges({ updateOld: [gslb], updateNew: [plain] });
      assert.equal((await dig(run.dnsPort, [name, 'A', '+short'])).raw.trim(), '192.0.2.30');
      assert.equal((await api(run, 'GET', '/api/v1/domains/move.example.com')).status, 404);
      await client.applyChanges({ delete: [plain] });
      assert.equal((await dig(run.dnsPort, [name, 'A', '+norec'])).status, 'NXDOMAIN');
    });

    it('deleting several GSLB domains at once is refused as the publish gate would hold it', async () => {
      const ps = (domain: string) => [{ name: 'webhook/cirrus-domain', value: domain }];
      const eps = ['one', 'two'].map((l) => ({
        ...A(`${l}.${ZONE}`, '203.0.113.20'),
        providerSpecific: ps(`${l}.example.com`),
      }));
      await client.applyChanges({ create: eps });
      const r = await call(base, 'POST', '/records', {
        body: marshalChanges({ delete: eps }),
        contentType: MEDIA_TYPE,
      });
      assert.equal(r.status, 409, r.text);
      assert.equal(r.json.error, 'BLAST_RADIUS');
      assert.match(r.json.message, /names/);
      for (const l of ['one', 'two']) {
        assert.equal((await api(run, 'GET', `/api/v1/domains/${l}.example.com`)).status, 200);
      }
      // One at a time is an ordinary write.
      for (const ep of eps) await client.applyChanges({ delete: [ep] });
      for (const l of ['one', 'two']) {
        assert.equal((await api(run, 'GET', `/api/v1/domains/${l}.example.com`)).status, 404);
      }
    });

    it('deletes what it created: records and ownership TXT leave, dig gets NXDOMAIN', async () => {
      const owner = { ...labels, owner: 'default' };
      await client.applyChanges(
        withOwnership({
          delete: [
            { ...A(shop, '192.0.2.8'), recordTTL: 30, labels: owner },
            { dnsName: `www.${ZONE}`, targets: [shop], recordType: 'CNAME', labels: owner },
            { dnsName: `v6.${ZONE}`, targets: ['2001:db8::7'], recordType: 'AAAA', labels: owner },
            {
              dnsName: `mail.${ZONE}`,
              targets: [`10 mx.${ZONE}`],
              recordType: 'MX',
              labels: owner,
            },
            {
              dnsName: `say.${ZONE}`,
              targets: ['hello <world> & "you"'],
              recordType: 'TXT',
              labels: owner,
            },
          ],
        }),
      );
      for (const [name, type] of [
        [shop, 'A'],
        [`www.${ZONE}`, 'CNAME'],
        [`v6.${ZONE}`, 'AAAA'],
        [`mail.${ZONE}`, 'MX'],
        [`say.${ZONE}`, 'TXT'],
        [`a-shop.${ZONE}`, 'TXT'],
        [`cname-www.${ZONE}`, 'TXT'],
      ] as const) {
        const r = await dig(run.dnsPort, [name, type, '+norec']);
        assert.equal(r.status, 'NXDOMAIN', `${name} ${type}: ${r.raw}`);
      }
      const left = (await client.records()).filter((e) => !e.providerSpecific);
      // The A-record ownership TXTs of the GSLB domain were deleted with it, the rest here.
      assert.deepEqual(left, [], JSON.stringify(left));
      // The SOA and the apex NS set are untouched.
      const ns = await dig(run.dnsPort, [ZONE, 'NS', '+short']);
      assert.equal(ns.raw.trim(), `ns1.${ZONE}.`);
    });
  });
});
