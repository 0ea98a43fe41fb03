// DNS cookies (RFC 7873, server cookies per RFC 9018) as real clients see them: `dig
// +cookie` and `kdig +cookie` get a server cookie, a valid one is echoed, a wrong one is
// replaced, BADCOOKIE and dig's retry (+badcookie) when the server demands cookies, a
// malformed option is FORMERR; and two instances on one real redis-server accept each
// other's cookies, before and after a rotation through the API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { RedisStore } from '../../src/store/redis.js';
import { cookieKeys } from '../../src/protect/cookie-repository.js';

const ZONE = 'cdn.example.net';
const CLIENT = '0123456789abcdef';

/** The cookie dig or kdig prints: "; COOKIE: <hex> (good)" / ";; COOKIE: <hex>". */
function cookieOf(raw: string): string | undefined {
  return /COOKIE: ([0-9a-fA-F]+)/.exec(raw)?.[1]?.toLowerCase();
}

/** An RFC 9018 server cookie: version 1, reserved zero, a timestamp near now, a hash. */
function assertServerCookie(cookie: string | undefined, client = CLIENT): string {
  assert.ok(cookie, 'a COOKIE option came back');
  assert.equal(cookie.length, 16 + 32, cookie);
  assert.equal(cookie.slice(0, 16), client, 'the client cookie is echoed');
  assert.equal(cookie.slice(16, 24), '01000000', 'version 1, reserved octets zero');
  const ts = parseInt(cookie.slice(24, 32), 16);
  assert.ok(Math.abs(ts - Date.now() / 1000) < 60, `timestamp ${ts} is now`);
  return cookie;
}

const soa = (port: number, ...args: string[]) => dig(port, [ZONE, 'SOA', ...args]);

describe('DNS cookies with dig and kdig', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({});
  });
  after(() => run.stop());

  it('gives a client-only cookie a server cookie (dig and kdig)', async () => {
    const d = await soa(run.dnsPort, `+cookie=${CLIENT}`);
    assert.equal(d.status, 'NOERROR');
    assert.equal(d.answer.length, 1);
    assertServerCookie(cookieOf(d.raw));
    const k = await dig(run.dnsPort, [ZONE, 'SOA', `+cookie=${CLIENT}`], 'kdig');
    assert.equal(k.status, 'NOERROR');
    assertServerCookie(cookieOf(k.raw));
  });

  it('echoes a valid server cookie and replaces a wrong one', async () => {
    const first = assertServerCookie(cookieOf((await soa(run.dnsPort, `+cookie=${CLIENT}`)).raw));
    const again = await soa(run.dnsPort, `+cookie=${first}`);
    assert.equal(again.status, 'NOERROR');
    assert.equal(cookieOf(again.raw), first, 'a fresh valid cookie comes back as sent');
    const wrong = `${CLIENT}01000000${first.slice(24, 32)}0000000000000000`;
    const replaced = await soa(run.dnsPort, `+cookie=${wrong}`);
    assert.equal(replaced.status, 'NOERROR', 'answered: the server does not demand cookies');
    const fresh = assertServerCookie(cookieOf(replaced.raw));
    assert.notEqual(fresh, wrong);
  });

  it('answers a malformed COOKIE option with FORMERR', async () => {
    // 12 octets: longer than a client cookie, too short for a server cookie (RFC 7873 §4).
    const d = await soa(run.dnsPort, '+cookie=0123456789abcdef01234567');
    assert.equal(d.status, 'FORMERR');
  });

  it('answers a query without a cookie with none', async () => {
    const d = await soa(run.dnsPort, '+nocookie');
    assert.equal(d.status, 'NOERROR');
    assert.equal(cookieOf(d.raw), undefined);
  });
});

describe('DNS cookies demanded (dns.cookies.demand)', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({ dns: { cookies: { demand: true } } });
  });
  after(() => run.stop());

  it('answers BADCOOKIE with a server cookie, and dig +badcookie retries with it', async () => {
    const bad = await soa(run.dnsPort, `+cookie=${CLIENT}`, '+nobadcookie');
    assert.equal(bad.status, 'BADCOOKIE');
    assert.equal(bad.answer.length, 0);
    const cookie = assertServerCookie(cookieOf(bad.raw));
    // RFC 7873 §5.3: the client retries with the server cookie it got, and is answered.
    const retried = await soa(run.dnsPort, `+cookie=${CLIENT}`, '+badcookie');
    assert.equal(retried.status, 'NOERROR');
    assert.equal(retried.answer.length, 1);
    const echoed = await soa(run.dnsPort, `+cookie=${cookie}`);
    assert.equal(echoed.status, 'NOERROR');
    assert.equal(cookieOf(echoed.raw), cookie);
  });

  it('answers over TCP and answers queries without any cookie', async () => {
    const tcp = await soa(run.dnsPort, `+cookie=${CLIENT}`, '+tcp');
    assert.equal(tcp.status, 'NOERROR', 'TCP proves the address (RFC 7873 §5.2.3)');
    assertServerCookie(cookieOf(tcp.raw));
    const none = await soa(run.dnsPort, '+nocookie');
    assert.equal(none.status, 'NOERROR', 'a resolver without cookies is answered');
  });
});

describe('DNS cookie secrets shared on one redis-server', () => {
  let redis: RedisServer;
  let a: RunningCirrus;
  let b: RunningCirrus;
  before(async () => {
    redis = await startRedis();
    // Demanded, so whether an instance accepts a cookie shows as NOERROR or BADCOOKIE.
    const config = { dns: { cookies: { demand: true, pollSeconds: 1 } } };
    a = await startCirrus(config, new RedisStore({ url: redis.url }));
    b = await startCirrus(config, new RedisStore({ url: redis.url }));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('accepts on one instance the cookie the other gave, and follows a rotation', async () => {
    const store = new RedisStore({ url: redis.url });
    await store.start();
    const stored = await store.get(cookieKeys.secrets);
    assert.ok(stored, `${cookieKeys.secrets} holds the secrets`);

    const fromA = cookieOf((await soa(a.dnsPort, `+cookie=${CLIENT}`, '+nobadcookie')).raw);
    const onB = await soa(b.dnsPort, `+cookie=${fromA}`);
    assert.equal(onB.status, 'NOERROR', "B accepts A's cookie");
    assert.equal(cookieOf(onB.raw), fromA);

    const rotated = await api(a, 'POST', '/api/v1/cookies/rotate');
    assert.equal(rotated.status, 200);
    assert.ok(Date.parse(rotated.json.rotatedAt) > 0);
    assert.notEqual(await store.get(cookieKeys.secrets), stored);
    const unauthenticated = await fetch(`${a.apiUrl}/api/v1/cookies/rotate`, { method: 'POST' });
    assert.equal(unauthenticated.status, 401);

    // A cookie made before the rotation stays valid (the previous secret), refreshed.
    const old = await soa(a.dnsPort, `+cookie=${fromA}`);
    assert.equal(old.status, 'NOERROR');
    const newFromA = assertServerCookie(cookieOf(old.raw));
    assert.notEqual(newFromA, fromA, 'answered with a cookie of the new secret');
    // B polls the store and takes the new secret: A's new cookie is echoed as sent.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const d = await soa(b.dnsPort, `+cookie=${newFromA}`);
      assert.equal(d.status, 'NOERROR');
      if (cookieOf(d.raw) === newFromA) break;
      assert.ok(Date.now() < deadline, 'B follows the rotation within its poll interval');
      await new Promise((r) => setTimeout(r, 200));
    }
    const stillOld = await soa(b.dnsPort, `+cookie=${fromA}`);
    assert.equal(stillOld.status, 'NOERROR', 'the previous secret is still accepted on B');
    await store.stop();
  });
});
