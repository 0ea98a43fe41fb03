// The ExternalDNS provider's decisions without HTTP: what an endpoint means (table), which
// Accept headers admit the media type, and a change applied while another writer changes the
// static records at the same moment (the conditional write re-applies it on the new text).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { finishConfig } from '../../src/config/load.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import type { Store, WriteOp, WriteOptions } from '../../src/store/store.js';
import { silentLogger } from '../../src/lib/logger.js';
import { snapshotSource } from '../../src/repositories.js';
import { repos } from '../helpers/repos.js';
import { classify, EndpointRefusal, type Endpoint } from '../../src/externaldns/endpoint.js';
import { ExternalDnsProvider } from '../../src/externaldns/provider.js';
import { acceptsWebhookJson } from '../../src/api/externaldns.js';
import { ZoneTextRepository } from '../../src/zone/repository.js';

const config = finishConfig({ seed: { dir: null }, store: { file: null } }, 'test');
const Z = 'cdn.example.net';
const facts = { baseNames: new Map([[`api-example-org.${Z}`, 'api.example.org']]) };

describe('classify', () => {
  const ok: [string, Endpoint, unknown][] = [
    [
      'A, name normalised',
      { dnsName: `WWW.${Z}.`, targets: ['192.0.2.1'], recordType: 'A', recordTTL: 30 },
      { kind: 'static', name: `www.${Z}`, typeName: 'A', rdata: ['192.0.2.1'], ttl: 30 },
    ],
    [
      'CNAME target made absolute',
      { dnsName: `c.${Z}`, targets: ['Example.org'], recordType: 'CNAME' },
      { kind: 'static', name: `c.${Z}`, typeName: 'CNAME', rdata: ['example.org.'], ttl: 0 },
    ],
    [
      'TXT: outer quotes are not content; long text split in 255-octet strings',
      { dnsName: `t.${Z}`, targets: ['"a\\b"', 'x'.repeat(300)], recordType: 'TXT' },
      {
        kind: 'static',
        name: `t.${Z}`,
        typeName: 'TXT',
        rdata: ['"a\\\\b"', `"${'x'.repeat(255)}" "${'x'.repeat(45)}"`],
        ttl: 0,
      },
    ],
    [
      'SRV keeps a root target',
      { dnsName: `_s._tcp.${Z}`, targets: ['0 0 0 .'], recordType: 'SRV' },
      { kind: 'static', name: `_s._tcp.${Z}`, typeName: 'SRV', rdata: ['0 0 0 .'], ttl: 0 },
    ],
    [
      'wildcard owner',
      { dnsName: `*.apps.${Z}`, targets: ['192.0.2.9'], recordType: 'A' },
      { kind: 'static', name: `*.apps.${Z}`, typeName: 'A', rdata: ['192.0.2.9'], ttl: 0 },
    ],
    [
      'GSLB domain by property',
      {
        dnsName: `shop.${Z}`,
        targets: ['2001:db8::1'],
        recordType: 'AAAA',
        providerSpecific: [{ name: 'webhook/cirrus-domain', value: 'Shop.Example.com.' }],
      },
      {
        kind: 'domain',
        name: `shop.${Z}`,
        label: 'shop',
        domain: 'shop.example.com',
        family: 'ipv6',
        targets: ['2001:db8::1'],
        ttl: 0,
      },
    ],
    [
      'TXT with the domain property (the TXT registry copies it) stays a static record',
      {
        dnsName: `a-shop.${Z}`,
        targets: ['"heritage=external-dns"'],
        recordType: 'TXT',
        providerSpecific: [{ name: 'webhook/cirrus-domain', value: 'shop.example.com' }],
      },
      {
        kind: 'static',
        name: `a-shop.${Z}`,
        typeName: 'TXT',
        rdata: ['"heritage=external-dns"'],
        ttl: 0,
      },
    ],
  ];
  for (const [what, ep, want] of ok) {
    it(what, () => {
      const got = classify(config, facts, ep, 'e');
      const { type: _type, ...rest } = got as { type?: number };
      assert.deepEqual(rest, want);
    });
  }

  const refused: [string, Endpoint, string, string][] = [
    [
      'outside the zone',
      { dnsName: 'www.example.org', targets: ['192.0.2.1'], recordType: 'A' },
      'outside_zone',
      'e.dnsName',
    ],
    [
      'a name that only ends like the zone',
      { dnsName: 'xcdn.example.net', targets: ['192.0.2.1'], recordType: 'A' },
      'outside_zone',
      'e.dnsName',
    ],
    [
      'apex NS',
      { dnsName: Z, targets: ['ns2.example.org'], recordType: 'NS' },
      'reserved_name',
      'e.dnsName',
    ],
    ['SOA', { dnsName: Z, targets: ['x'], recordType: 'SOA' }, 'unsupported_type', 'e.recordType'],
    [
      'in-zone name server',
      { dnsName: `ns1.${Z}`, targets: ['192.0.2.1'], recordType: 'A' },
      'reserved_name',
      'e.dnsName',
    ],
    [
      'base name of a domain',
      { dnsName: `api-example-org.${Z}`, targets: ['x'], recordType: 'TXT' },
      'base_name',
      'e.dnsName',
    ],
    [
      'set identifier',
      { dnsName: `w.${Z}`, targets: ['192.0.2.1'], recordType: 'A', setIdentifier: 'eu' },
      'set_identifier',
      'e.setIdentifier',
    ],
    [
      'AAAA target that is IPv4',
      { dnsName: `w.${Z}`, targets: ['192.0.2.1'], recordType: 'AAAA' },
      'bad_target',
      'e.targets[0]',
    ],
    [
      'MX without preference',
      { dnsName: `w.${Z}`, targets: ['mail.example.org'], recordType: 'MX' },
      'bad_target',
      'e.targets[0]',
    ],
    ['no targets', { dnsName: `w.${Z}`, targets: [], recordType: 'A' }, 'bad_target', 'e.targets'],
    [
      'domain property with a name inside the zone',
      {
        dnsName: `w.${Z}`,
        targets: ['192.0.2.1'],
        recordType: 'A',
        providerSpecific: [{ name: 'cirrus/domain', value: `x.${Z}` }],
      },
      'bad_domain',
      'e.providerSpecific',
    ],
    [
      'domain base name two labels deep',
      {
        dnsName: `a.b.${Z}`,
        targets: ['192.0.2.1'],
        recordType: 'A',
        providerSpecific: [{ name: 'cirrus/domain', value: 'www.example.com' }],
      },
      'bad_domain',
      'e.dnsName',
    ],
  ];
  for (const [what, ep, reason, field] of refused) {
    it(`refuses: ${what}`, () => {
      assert.throws(
        () => classify(config, facts, ep, 'e'),
        (err: unknown) =>
          err instanceof EndpointRefusal && err.reason === reason && err.field === field,
      );
    });
  }
});

describe('acceptsWebhookJson', () => {
  const table: [string | undefined, boolean][] = [
    [undefined, true],
    ['application/external.dns.webhook+json;version=1', true],
    ['application/external.dns.webhook+json; version="1"', true],
    ['application/external.dns.webhook+json', true],
    ['*/*', true],
    ['application/*;q=0.5', true],
    ['text/html, application/external.dns.webhook+json;version=1;q=0.9', true],
    ['application/external.dns.webhook+json;version=2', false],
    ['application/external.dns.webhook+json;version=1;q=0', false],
    ['application/json', false],
    ['text/*', false],
  ];
  for (const [accept, want] of table) {
    it(`${accept ?? '(none)'} → ${want}`, () => assert.equal(acceptsWebhookJson(accept), want));
  }
});

/** A store whose first conditional write on `key` is preceded by another writer's. */
function racingStore(inner: Store, key: string, foreign: string): Store {
  let raced = false;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return async (ops: readonly WriteOp[], opts?: WriteOptions) => {
          if (!raced && opts?.if?.some((c) => c.key === key)) {
            raced = true;
            await target.write([{ op: 'set', key, value: foreign }], { change: 'zone' });
          }
          return target.write(ops, opts);
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('ExternalDnsProvider.apply', () => {
  it('re-applies a change on the text another writer stored meanwhile', async () => {
    const inner = new EmbeddedStore();
    await inner.start();
    const r = repos(inner);
    await r.zoneText.put(Z, 'old 300 IN A 192.0.2.1 ; kept\n');
    const key = `cdn:zonefile:${Z}`;
    const store = racingStore(inner, key, 'old 300 IN A 192.0.2.1\nother 60 IN TXT "theirs"\n');
    const provider = new ExternalDnsProvider({
      config,
      zoneText: new ZoneTextRepository(store),
      domains: r.domains,
      loadState: () => snapshotSource(r).loadState(Z),
      flush: async () => {},
      logger: silentLogger(),
      registry: new Registry(),
    });
    await provider.apply({
      create: [{ dnsName: `new.${Z}`, targets: ['192.0.2.2'], recordType: 'A', recordTTL: 30 }],
      delete: [{ dnsName: `old.${Z}`, targets: ['192.0.2.1'], recordType: 'A' }],
    });
    assert.equal(
      await r.zoneText.get(Z),
      [`other.${Z}.\t60\tIN\tTXT\t"theirs"`, `new.${Z}.\t30\tIN\tA\t192.0.2.2`, ''].join('\n'),
    );
    const listed = await provider.records();
    assert.deepEqual(
      listed.map((e) => [e.dnsName, e.recordType, e.targets, e.recordTTL]),
      [
        [`other.${Z}`, 'TXT', ['theirs'], 60],
        [`new.${Z}`, 'A', ['192.0.2.2'], 30],
      ],
    );
    await inner.stop();
  });
});
