// Two Cirrus instances sharing one real redis-server: a write through either instance's
// API is answered by the other over DNS within a second, and both agree on the serial.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig, type DigResult } from '../helpers/dig.js';

const ZONE = 'cdn.example.net';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Digs until `check` passes; fails after `ms`. Returns the passing result and how long it took. */
async function digWithin(
  port: number,
  args: string[],
  check: (r: DigResult) => boolean,
  ms: number,
  what: string,
): Promise<DigResult> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await dig(port, args);
    if (check(r)) return r;
    if (Date.now() > deadline) assert.fail(`${what}: not answered within ${ms} ms:\n${r.raw}`);
    await sleep(25);
  }
}

const soaSerial = async (port: number): Promise<number> => {
  const r = await dig(port, [ZONE, 'SOA']);
  const soa = r.answer.find((l) => / SOA /.test(l));
  assert.ok(soa, r.raw);
  return Number(soa.split(' ')[6]);
};

/** Both instances' SOA serials, once they agree (they may differ for one debounce). */
async function agreedSerial(a: RunningCirrus, b: RunningCirrus): Promise<number> {
  const deadline = Date.now() + 1000;
  for (;;) {
    const [sa, sb] = [await soaSerial(a.dnsPort), await soaSerial(b.dnsPort)];
    if (sa === sb) return sa;
    if (Date.now() > deadline) assert.fail(`instances disagree on the serial: A ${sa}, B ${sb}`);
    await sleep(25);
  }
}

describe('two instances on one redis-server', () => {
  let redis: RedisServer;
  let a: RunningCirrus;
  let b: RunningCirrus;

  before(async () => {
    redis = await startRedis();
    a = await startCirrus({}, new RedisStore({ url: redis.url }));
    b = await startCirrus({}, new RedisStore({ url: redis.url }));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('both report the Redis store and start on the same serial', async () => {
    assert.equal((await api(a, 'GET', '/healthz')).json.store, 'redis');
    assert.equal((await api(b, 'GET', '/healthz')).json.store, 'redis');
    assert.ok((await agreedSerial(a, b)) > 0);
  });

  it('a domain created through A is answered by B within 1 s, at the same serial', async () => {
    const before = await agreedSerial(a, b);
    assert.equal(
      (await api(a, 'PUT', '/api/v1/nodes', [{ id: 'e1', ipv4: '192.0.2.1' }])).status,
      200,
    );
    const res = await api(a, 'POST', '/api/v1/domains', {
      domain: 'shared.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    const name = res.json.cname as string;
    const t0 = Date.now();
    const onB = await digWithin(
      b.dnsPort,
      [name, 'A'],
      (r) => r.answer.some((l) => l.endsWith(' A 192.0.2.1')),
      1000,
      'B answering a domain created on A',
    );
    assert.equal(onB.status, 'NOERROR');
    assert.ok(Date.now() - t0 <= 1000);
    const onA = await dig(a.dnsPort, [name, 'A']);
    assert.deepEqual(onA.answer, onB.answer);
    const serial = await agreedSerial(a, b);
    assert.notEqual(serial, before, 'the change took a new serial');
  });

  it('a change through B reaches A, and a token made on A works on B', async () => {
    const patched = await api(b, 'PATCH', '/api/v1/nodes/e1', { active: false });
    assert.equal(patched.status, 200);
    await digWithin(
      a.dnsPort,
      [`shared-example-com.${ZONE}`, 'A'],
      (r) => r.answer.some((l) => l.endsWith(' A 203.0.113.1')),
      1000,
      'A falling back to the origin after B deactivated the node',
    );
    await agreedSerial(a, b);

    const made = await api(a, 'POST', '/api/v1/tokens', { name: 'shared' });
    assert.equal(made.status, 201);
    const onB = await fetch(`${b.apiUrl}/api/v1/domains`, {
      headers: { authorization: `Bearer ${made.json.token}` },
    });
    assert.equal(onB.status, 200);
    assert.equal((await api(b, 'DELETE', `/api/v1/tokens/${made.json.id}`)).status, 204);
    const revoked = await fetch(`${a.apiUrl}/api/v1/domains`, {
      headers: { authorization: `Bearer ${made.json.token}` },
    });
    assert.equal(revoked.status, 401);
  });
});
