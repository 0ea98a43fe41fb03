// Certificate issuance against a real Debian pebble that validates DNS-01 through a
// customer resolver which follows the `_acme-challenge` CNAME into Cirrus's acme zone, with
// a real redis-server holding `cdn:cert:{domain}` in the layout the edge reads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startCirrus, api, type RunningCirrus } from '../helpers/cirrus.js';
import { startRedis, freePort, type RedisServer } from '../helpers/redis-server.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { startCustomerDns, type CustomerDns } from '../helpers/customer-dns.js';
import { dig } from '../helpers/dig.js';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis.js';
import { CertificateService } from '../../src/acme/certificates.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { silentLogger } from '../../src/lib/logger.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// `any`: API replies are asserted field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('ACME issuance with real pebble, DNS-01 through Cirrus', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let customer: CustomerDns;
  let pebble: Pebble;
  let cirrus: RunningCirrus;

  before(async () => {
    redis = await startRedis();
    const dnsPort = await freePort();
    customer = await startCustomerDns(dnsPort);
    pebble = await startPebble(customer.port);
    cirrus = await startCirrus(
      {
        zone: { name: 'cdn.example.net' },
        dns: { listen: [`127.0.0.1:${dnsPort}`] },
        acme: {
          issuer: {
            directory: pebble.directory,
            caBundle: pebble.caFile,
            resolvers: [`127.0.0.1:${customer.port}`],
            pollMs: 100,
            attempts: 2,
            backoffMs: 100,
            renewSpreadSec: 0,
          },
        },
      },
      new RedisStore({ url: redis.url }),
    );
  });
  after(async () => {
    await cirrus?.stop();
    await pebble?.stop();
    await customer?.stop();
    await redis?.stop();
  });

  async function addDomain(domain: string): Promise<void> {
    const res = await api(cirrus, 'POST', '/api/v1/domains', {
      domain,
      origins: [{ address: '198.51.100.10' }],
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
  }

  /** Polls the certificate state until `done` holds. */
  async function waitFor(domain: string, done: (v: Json) => boolean): Promise<Json> {
    let last: Json;
    for (let i = 0; i < 300; i++) {
      last = (await api(cirrus, 'GET', `/api/v1/domains/${domain}/certificate`)).json;
      if (done(last)) return last;
      await sleep(100);
    }
    assert.fail(`certificate of ${domain} never settled: ${JSON.stringify(last)}`);
  }

  async function verifyChain(pem: string, key: string, names: string[]): Promise<X509Certificate> {
    const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.ok(certs.length >= 2, 'leaf and intermediate');
    const leaf = new X509Certificate(certs[0] as string);
    const inter = new X509Certificate(certs[1] as string);
    const root = new X509Certificate(await pebble.root());
    assert.ok(leaf.verify(inter.publicKey) && inter.verify(root.publicKey), 'chains to pebble');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(key)), 'the stored key is the leaf key');
    assert.deepEqual(
      (leaf.subjectAltName ?? '').split(', ').sort(),
      names.map((n) => `DNS:${n}`).sort(),
    );
    return leaf;
  }

  it('tells the customer which CNAME to create, then issues once it exists', async () => {
    const domain = 'shop.example.test';
    await addDomain(domain);
    const first = await api(cirrus, 'POST', `/api/v1/domains/${domain}/certificate`, {});
    assert.equal(first.status, 202);
    assert.equal(first.json.status, 'awaiting_cname');
    assert.equal(first.json.cname.name, `_acme-challenge.${domain}`);
    assert.match(first.json.cname.target, /^[0-9a-f-]{36}\.acme\.cdn\.example\.net$/);
    assert.match(first.json.lastError, /_acme-challenge\.shop\.example\.test has no CNAME: create/);
    assert.equal(first.json.acmeDns.fulldomain, first.json.cname.target);
    assert.equal(first.json.orders, 0, 'no order without the CNAME');

    customer.cnames.set(`_acme-challenge.${domain}`, first.json.cname.target);
    const second = await api(cirrus, 'POST', `/api/v1/domains/${domain}/certificate`, {});
    assert.equal(second.json.status, 'pending');
    assert.equal(second.json.acmeDns, undefined, 'credentials are shown once');
    const done = await waitFor(domain, (v) => v.status !== 'pending');
    assert.equal(done.status, 'valid', JSON.stringify(done));
    assert.equal(done.orders, 1);
    assert.ok(customer.queries.includes(`_acme-challenge.${domain}`), 'pebble asked for the TXT');

    // The layout the edge reads: a Redis hash with exactly these fields.
    const { stdout } = await run('redis-cli', ['-u', redis.url, 'HKEYS', `cdn:cert:${domain}`]);
    assert.deepEqual(stdout.trim().split('\n').sort(), ['cert', 'expires_at', 'issued_at', 'key']);
    const stored = await cirrus.cirrus.repos.acme.getCertificate(domain);
    assert.ok(stored);
    const leaf = await verifyChain(stored.cert, stored.key, [domain]);
    assert.equal(stored.expiresAt, new Date(leaf.validTo).toISOString());
    assert.equal(done.expiresAt, stored.expiresAt);

    // Challenge values are withdrawn after the order.
    const left = await dig(cirrus.dnsPort, [first.json.cname.target, 'TXT']);
    assert.deepEqual(left.answer, []);

    const metrics = (await api(cirrus, 'GET', '/metrics')).json as string;
    const m = /cirrus_cert_expiry_seconds\{domain="shop\.example\.test"\} (\d+)/.exec(metrics);
    assert.ok(m && Number(m[1]) > 86400 * 30, 'expiry gauge counts seconds to expiry');
  });

  it('issues a wildcard certificate (both names share one challenge name)', async () => {
    const domain = 'wild.example.test';
    await addDomain(domain);
    const first = await api(cirrus, 'POST', `/api/v1/domains/${domain}/certificate`, {
      wildcard: true,
    });
    customer.cnames.set(`_acme-challenge.${domain}`, first.json.cname.target);
    await api(cirrus, 'POST', `/api/v1/domains/${domain}/certificate`, {});
    const done = await waitFor(
      domain,
      (v) => v.status !== 'pending' && v.status !== 'awaiting_cname',
    );
    assert.equal(done.status, 'valid', JSON.stringify(done));
    assert.deepEqual(done.names, [domain, `*.${domain}`]);
    const stored = await cirrus.cirrus.repos.acme.getCertificate(domain);
    assert.ok(stored);
    await verifyChain(stored.cert, stored.key, [domain, `*.${domain}`]);
  });

  it('a forced renewal orders again and reuses the key from cdn:acmecertkey', async () => {
    const domain = 'shop.example.test';
    const before = await cirrus.cirrus.repos.acme.getCertificate(domain);
    assert.ok(before);
    // The edges drop their cached copy when `cdn:cert:updated` names the domain.
    const sub = new Redis(redis.url);
    const announced = new Promise<string>((resolve) =>
      sub.on('message', (_c, m: string) => resolve(m)),
    );
    await sub.subscribe('cdn:cert:updated');
    const res = await api(cirrus, 'POST', `/api/v1/domains/${domain}/certificate`, { force: true });
    assert.equal(res.json.status, 'pending');
    const done = await waitFor(domain, (v) => v.status !== 'pending');
    assert.equal(done.status, 'valid');
    assert.equal(done.orders, 2);
    const after_ = await cirrus.cirrus.repos.acme.getCertificate(domain);
    assert.ok(after_);
    assert.notEqual(after_.cert, before.cert, 'a new certificate');
    assert.equal(after_.key, before.key, 'the same key');
    assert.equal(await announced, domain);
    sub.disconnect();
    const { stdout } = await run('redis-cli', [
      '-u',
      redis.url,
      'GET',
      `cdn:acmecertkey:${domain}`,
    ]);
    assert.equal(stdout.trim(), after_.key.trim());
    assert.ok(
      new X509Certificate(after_.cert).publicKey.equals(new X509Certificate(before.cert).publicKey),
    );
  });

  it('two concurrent requests, from two issuers on one store, give one order', async () => {
    const domain = 'shop.example.test';
    const other = new CertificateService({
      config: cirrus.config,
      repos: cirrus.cirrus.repos,
      txt: cirrus.cirrus.txt,
      logger: silentLogger(),
      registry: createRegistry(),
    });
    const mine = cirrus.cirrus.certificates as CertificateService;
    const ordersBefore = (await cirrus.cirrus.repos.acme.getState(domain))?.orders ?? 0;
    await Promise.all([mine.issue(domain), other.issue(domain), mine.issue(domain)]);
    const state = await cirrus.cirrus.repos.acme.getState(domain);
    assert.equal(state?.orders, ordersBefore + 1, 'one order for three calls');
    assert.equal(state?.status, 'valid');
    await other.stop();
  });

  it('the renewal scan picks only certificates inside the window', async () => {
    const service = cirrus.cirrus.certificates as CertificateService;
    assert.deepEqual(await service.renewDue(Date.now()), [], 'fresh certificates are not due');
    const cert = await cirrus.cirrus.repos.acme.getCertificate('wild.example.test');
    assert.ok(cert);
    const nearExpiry = Date.parse(cert.expiresAt) - 10 * 86_400_000;
    const due = await service.renewDue(nearExpiry);
    assert.deepEqual(due.sort(), ['shop.example.test', 'wild.example.test']);
    const done = await waitFor(
      'wild.example.test',
      (v) => v.orders === 2 && v.status !== 'pending',
    );
    assert.equal(done.status, 'valid');
    await waitFor('shop.example.test', (v) => v.orders === 4 && v.status !== 'pending');
  });

  it('an order the CA refuses leaves the stored certificate untouched', async () => {
    const domain = 'wild.example.test';
    const before = await cirrus.cirrus.repos.acme.getCertificate(domain);
    assert.ok(before);
    const ordersBefore = (await cirrus.cirrus.repos.acme.getState(domain))?.orders ?? 0;
    customer.tamper.value = 'not-the-digest';
    try {
      await api(cirrus, 'POST', `/api/v1/domains/${domain}/certificate`, { force: true });
      const done = await waitFor(domain, (v) => v.status === 'failed');
      assert.match(done.lastError, /ACME order failed/);
      assert.equal(done.orders, ordersBefore + 2, 'both attempts ordered');
      assert.deepEqual(await cirrus.cirrus.repos.acme.getCertificate(domain), before);
      assert.equal(done.expiresAt, before.expiresAt);
    } finally {
      customer.tamper.value = undefined;
    }
  });

  it('a missing CNAME gives a clear failed state and keeps the old certificate', async () => {
    const domain = 'shop.example.test';
    const before = await cirrus.cirrus.repos.acme.getCertificate(domain);
    assert.ok(before);
    customer.cnames.delete(`_acme-challenge.${domain}`);
    const res = await api(cirrus, 'POST', `/api/v1/domains/${domain}/certificate`, { force: true });
    assert.equal(res.status, 202);
    const state = await api(cirrus, 'GET', `/api/v1/domains/${domain}/certificate`);
    assert.match(state.json.lastError, /_acme-challenge\.shop\.example\.test has no CNAME: create/);
    assert.equal(state.json.expiresAt, before.expiresAt, 'the stored certificate is still shown');

    // The renewal path (past the API's check) records the failure the same way.
    await (cirrus.cirrus.certificates as CertificateService).issue(domain);
    const failed = await api(cirrus, 'GET', `/api/v1/domains/${domain}/certificate`);
    assert.equal(failed.json.status, 'failed');
    assert.match(failed.json.lastError, /has no CNAME/);
    assert.deepEqual(
      await cirrus.cirrus.repos.acme.getCertificate(domain),
      before,
      'certificate kept',
    );
  });

  it('refuses a certificate for a domain Cirrus does not manage', async () => {
    const res = await api(cirrus, 'POST', '/api/v1/domains/unknown.example.test/certificate', {});
    assert.equal(res.status, 404);
    assert.match(res.json.message, /not managed/);
  });
});
