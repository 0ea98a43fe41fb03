// A write while Redis is unreachable answers 503 STORE_UNAVAILABLE with the store's reason
// and Retry-After at once (not after retries), DNS keeps answering, and once Redis is back
// the same write succeeds with nothing of the refused one applied.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POST with the test token; the raw Response, so headers can be read. */
function post(run: RunningCirrus, path: string, body: unknown): Promise<Response> {
  return fetch(run.apiUrl + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${run.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('writes while Redis is unreachable', () => {
  let redis: RedisServer;
  let relay: TcpRelay;
  let run: RunningCirrus;
  let direct: Redis;

  before(async () => {
    redis = await startRedis();
    relay = new TcpRelay(await freePort(), redis.port);
    await relay.open();
    run = await startCirrus({}, new RedisStore({ url: `redis://127.0.0.1:${relay.port}` }));
    direct = new Redis(redis.url);
  });
  after(async () => {
    direct?.disconnect();
    await run?.stop();
    await relay?.cut();
    await redis?.stop();
  });

  it('answer 503 STORE_UNAVAILABLE with Retry-After at once; DNS answers; the write succeeds once Redis is back', async () => {
    const first = await post(run, '/api/v1/domains', {
      domain: 'before.example.com',
      origins: [{ address: '203.0.113.1' }],
    });
    const created = await first.text();
    assert.equal(first.status, 201, created);
    const cname = (JSON.parse(created) as { cname: string }).cname;
    const keysBefore = (await direct.keys('*')).sort();

    await relay.cut();
    await sleep(100);
    const t0 = Date.now();
    const refused = await post(run, '/api/v1/domains', {
      domain: 'during.example.com',
      origins: [{ address: '203.0.113.2' }],
    });
    const took = Date.now() - t0;
    assert.equal(refused.status, 503);
    assert.ok(took < 5000, `503 after ${took} ms`);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1, `Retry-After: ${refused.headers.get('retry-after')}`);
    const body = (await refused.json()) as { error: string; message: string };
    assert.equal(body.error, 'STORE_UNAVAILABLE');
    assert.match(body.message, new RegExp(`^redis 127\\.0\\.0\\.1:${relay.port}: `));

    const answer = await dig(run.dnsPort, [cname, 'A']);
    assert.equal(answer.status, 'NOERROR');
    assert.ok(answer.answer.length > 0, answer.raw);

    // Nothing of the refused write reached Redis.
    assert.deepEqual((await direct.keys('*')).sort(), keysBefore);

    await relay.open();
    const deadline = Date.now() + 10_000;
    let res: Response;
    for (;;) {
      res = await post(run, '/api/v1/domains', {
        domain: 'during.example.com',
        origins: [{ address: '203.0.113.2' }],
      });
      if (res.status !== 503 || Date.now() > deadline) break;
      await sleep(Number(res.headers.get('retry-after')) * 100);
    }
    assert.equal(res.status, 201, await res.text());
  });
});
