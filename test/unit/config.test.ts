import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/lib/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cirrus-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function fails(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.field, field);
    assert.match(err.message, message);
    return true;
  });
}

describe('config', () => {
  it('has working defaults with no file and no environment', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.zone.name, 'cdn.example.net');
    assert.deepEqual(c.dns.listen, ['127.0.0.1:5353']);
    assert.equal(c.api.listen, '127.0.0.1:8080');
    assert.equal(c.gslb.ttl, 60);
    assert.equal(c.store.redisUrl, null);
    assert.equal(c.store.writeDelayMs, 100);
    assert.deepEqual(c.zone.ns, [{ name: 'ns1.cdn.example.net', ipv4: ['127.0.0.1'], ipv6: [] }]);
    assert.equal(c.zone.soa.mname, 'ns1.cdn.example.net');
    assert.equal(c.zone.soa.rname, 'hostmaster.cdn.example.net');
  });

  it('DNSSEC: off by default, DNSSEC=on and DNSSEC_ALGORITHM turn it on, bad values are named', () => {
    assert.equal(loadConfig({ env: {} }).dnssec.enabled, false);
    const on = loadConfig({ env: { DNSSEC: 'on', DNSSEC_ALGORITHM: 'Ed25519' } });
    assert.equal(on.dnssec.enabled, true);
    assert.equal(on.dnssec.algorithm, 'ed25519');
    assert.equal(loadConfig({ env: { DNSSEC: 'off' } }).dnssec.enabled, false);
    fails(() => loadConfig({ env: { DNSSEC: 'maybe' } }), 'dnssec.enabled', /boolean/);
    fails(() => loadConfig({ env: { DNSSEC_ALGORITHM: 'rsasha256' } }), 'dnssec.algorithm', /./);
    fails(
      () =>
        loadConfig({
          env: {},
          file: file('d.yaml', 'dnssec:\n  validityDays: 7\n  refreshDays: 7\n'),
        }),
      'dnssec.refreshDays',
      /must be below dnssec.validityDays/,
    );
  });

  it('reads YAML and JSON files', () => {
    const y = loadConfig({
      env: {},
      file: file('a.yaml', 'zone:\n  name: CDN.Example.COM.\ngslb:\n  ttl: 30\n'),
    });
    assert.equal(y.zone.name, 'cdn.example.com');
    assert.equal(y.gslb.ttl, 30);
    const j = loadConfig({ env: {}, file: file('a.json', '{"dns":{"udpSize":4096}}') });
    assert.equal(j.dns.udpSize, 4096);
  });

  it('applies environment overrides over the file', () => {
    const c = loadConfig({
      file: file('b.yaml', 'zone:\n  name: a.example\n'),
      env: {
        CNAME_BASE_DOMAIN: 'b.example',
        REDIS_URL: 'redis://127.0.0.1:6379/2',
        DNS_LISTEN: '127.0.0.1:53, [::1]:53',
        STATE_FILE: '',
        GSLB_TTL: '15',
      },
    });
    assert.equal(c.zone.name, 'b.example');
    assert.equal(c.store.redisUrl, 'redis://127.0.0.1:6379/2');
    assert.deepEqual(c.dns.listen, ['127.0.0.1:53', '[::1]:53']);
    assert.equal(c.store.file, null);
    assert.equal(c.gslb.ttl, 15);
  });

  it('reads Sentinel, ACL and TLS settings from the environment', () => {
    const c = loadConfig({
      env: {
        REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26379',
        REDIS_SENTINEL_NAME: 'cdn',
        REDIS_USERNAME: 'cirrus',
        REDIS_PASSWORD: 's3cret',
        REDIS_TLS: 'true',
        REDIS_TLS_CA: '/etc/cirrus/ca.pem',
      },
    });
    assert.deepEqual(c.store.sentinel.addresses, ['10.0.0.1:26379', '10.0.0.2:26379']);
    assert.equal(c.store.sentinel.name, 'cdn');
    assert.equal(c.store.redis.username, 'cirrus');
    assert.equal(c.store.redis.password, 's3cret');
    assert.equal(c.store.redis.tls.enabled, true);
    assert.equal(c.store.redis.tls.ca, '/etc/cirrus/ca.pem');
    assert.equal(c.store.redis.waitReplicas, null);
  });

  it('names the field of a bad Sentinel or TLS setting', () => {
    fails(
      () => loadConfig({ env: { REDIS_SENTINELS: 'nope' } }),
      'store.sentinel.addresses[0]',
      /store\.sentinel\.addresses\[0\]/,
    );
    fails(
      () => loadConfig({ env: { REDIS_SENTINELS: '10.0.0.1:26379', REDIS_URL: 'redis://x:6379' } }),
      'store.sentinel.addresses',
      /exclude each other/,
    );
    fails(
      () => loadConfig({ env: { REDIS_TLS_CERT: '/c.pem' } }),
      'store.redis.tls.key',
      /cert and store\.redis\.tls\.key go together/,
    );
    fails(() => loadConfig({ env: { REDIS_TLS: 'yes' } }), 'store.redis.tls.enabled', /boolean/);
  });

  it('takes dns.udpBatch from CIRRUS_UDP_BATCH (auto by default) and names it when bad', () => {
    assert.equal(loadConfig({ env: {} }).dns.udpBatch, 'auto');
    assert.equal(loadConfig({ env: { CIRRUS_UDP_BATCH: 'OFF' } }).dns.udpBatch, 'off');
    assert.equal(loadConfig({ env: { CIRRUS_UDP_BATCH: 'on' } }).dns.udpBatch, 'on');
    fails(() => loadConfig({ env: { CIRRUS_UDP_BATCH: 'yes' } }), 'dns.udpBatch', /dns\.udpBatch/);
  });

  it('names the field of a bad value', () => {
    fails(
      () => loadConfig({ env: {}, file: file('c.yaml', 'dns:\n  udpSize: 100\n') }),
      'dns.udpSize',
      /dns\.udpSize must be >= 512/,
    );
    fails(
      () => loadConfig({ env: { DNS_LISTEN: 'nonsense' } }),
      'dns.listen[0]',
      /dns\.listen\[0\]/,
    );
    fails(() => loadConfig({ env: { GSLB_TTL: 'soon' } }), 'gslb.ttl', /gslb\.ttl must be integer/);
    fails(
      () => loadConfig({ env: {}, file: file('d.json', '{"zone":{"nmae":"x"}}') }),
      'zone.nmae',
      /zone\.nmae is not a known field/,
    );
    fails(
      () => loadConfig({ env: { REDIS_URL: 'http://x' } }),
      'store.redisUrl',
      /store\.redisUrl/,
    );
    fails(
      () => loadConfig({ env: {}, file: file('w.json', '{"store":{"writeDelayMs":-1}}') }),
      'store.writeDelayMs',
      /store\.writeDelayMs/,
    );
  });

  it('requires glue for an in-zone name server', () => {
    fails(
      () =>
        loadConfig({
          env: {},
          file: file(
            'e.yaml',
            'zone:\n  name: cdn.example.net\n  ns:\n    - name: ns9.cdn.example.net\n',
          ),
        }),
      'zone.ns[0].ipv4',
      /needs glue/,
    );
  });

  it('reports unreadable and malformed files', () => {
    assert.throws(
      () => loadConfig({ env: {}, file: join(dir, 'missing.yaml') }),
      /cannot read config file/,
    );
    assert.throws(() => loadConfig({ env: {}, file: file('f.json', '{nope') }), /not valid JSON/);
    assert.throws(
      () => loadConfig({ env: {}, file: file('g.yaml', '- a\n- b\n') }),
      /mapping at the top level/,
    );
  });
});
