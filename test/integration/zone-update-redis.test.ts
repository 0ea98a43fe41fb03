// RFC 2136 UPDATE of the static zone across two Cirrus instances on one real redis-server:
// an update sent to A is answered by B (the change goes through the store, not one
// process), and updates sent at the same time to both instances all land (each message is
// written by compare-and-set and checked again when another writer came first).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { nsupdate } from '../helpers/nsupdate.js';
import { eventually } from '../helpers/wait.js';

const ZONE = 'cdn.example.net';
const APPS = `apps.${ZONE}`;
const SECRET = randomBytes(32).toString('base64');
const KEY = `hmac-sha256:ext-dns:${SECRET}`;

describe('static-zone UPDATE on two instances sharing Redis', () => {
  let redis: RedisServer;
  let a: RunningCirrus;
  let b: RunningCirrus;
  const config = {
    zone: { name: ZONE },
    acme: { issuer: { enabled: false } },
    xfr: {
      keys: [
        {
          name: 'ext-dns',
          algorithm: 'hmac-sha256' as const,
          secret: SECRET,
          update: { names: [`*.${APPS}`], types: ['A', 'TXT'], transfer: true },
        },
      ],
    },
  };
  const send = (run: RunningCirrus, lines: string[]) =>
    nsupdate(['-y', KEY], [`server 127.0.0.1 ${run.dnsPort}`, `zone ${ZONE}`, ...lines, 'send']);
  const answer = async (run: RunningCirrus, name: string, type: string) =>
    (await dig(run.dnsPort, [name, type])).answer.sort();

  before(async () => {
    redis = await startRedis();
    a = await startCirrus(config, new RedisStore({ url: redis.url }));
    b = await startCirrus(config, new RedisStore({ url: redis.url }));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it('an update sent to A is answered by B, at the same serial', async () => {
    const res = await send(a, [`update add shared.${APPS} 90 A 192.0.2.10`]);
    assert.equal(res.code, 0, res.output);
    await eventually('B to answer the record', 10000, async () => {
      const got = await answer(b, `shared.${APPS}`, 'A');
      return got.length === 1 ? got : undefined;
    });
    assert.deepEqual(await answer(b, `shared.${APPS}`, 'A'), [
      `shared.${APPS}. 90 IN A 192.0.2.10`,
    ]);
    await eventually('one serial', 10000, async () =>
      a.cirrus.snapshots.current.serial === b.cirrus.snapshots.current.serial ? true : undefined,
    );
  });

  it('updates sent at once to both instances all land', async () => {
    const n = 8;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        send(i % 2 ? b : a, [`update add race.${APPS} 60 TXT "writer-${i}"`]),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, r.output);
    const expected = Array.from(
      { length: n },
      (_, i) => `race.${APPS}. 60 IN TXT "writer-${i}"`,
    ).sort();
    for (const run of [a, b])
      await eventually('every value on both instances', 10000, async () => {
        const got = await answer(run, `race.${APPS}`, 'TXT');
        return JSON.stringify(got) === JSON.stringify(expected) ? true : undefined;
      });
  });
});
