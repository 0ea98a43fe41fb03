// Webhook delivery against a real HTTP receiver on loopback: retries with doubling backoff
// up to `attempts`, one delivery at a time in order, a bounded queue that drops the oldest
// waiting delivery, and a signature the receiver verifies on every attempt.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { WebhookSender, verifySignature } from '../../src/health/webhooks.js';
import { silentLogger } from '../../src/lib/logger.js';
import { until } from '../helpers/edge-server.js';

const SECRET = 'unit-secret-0123456789abcdef';

describe('webhook sender', () => {
  let server: Server;
  let url = '';
  const got: { body: string; at: number; attempt: number; verified: boolean }[] = [];
  let answer = (_body: string): number => 204;
  let hold = 0;
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        got.push({
          body,
          at: Date.now(),
          attempt: Number(req.headers['x-cirrus-attempt']),
          verified: verifySignature(
            SECRET,
            req.headers['x-cirrus-timestamp'] as string,
            body,
            req.headers['x-cirrus-signature'] as string,
          ),
        });
        setTimeout(() => res.writeHead(answer(body)).end(), hold);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  function sender(opts: { queue?: number; attempts?: number; backoffMs?: number } = {}) {
    const registry = new Registry();
    const deliveries = new Counter({
      name: 'd',
      help: 'd',
      labelNames: ['hook', 'result'] as const,
      registers: [registry],
    });
    const s = new WebhookSender(
      { url, secret: SECRET, timeoutMs: 2000 },
      {
        queue: opts.queue ?? 10,
        attempts: opts.attempts ?? 4,
        backoffMs: opts.backoffMs ?? 100,
        log: silentLogger(),
        deliveries,
        label: '0',
      },
    );
    s.start();
    const count = async (result: string) =>
      (await deliveries.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    return { s, count };
  }

  it('retries a failing receiver with doubling backoff, then gives up after `attempts`', async () => {
    got.length = 0;
    answer = () => 503;
    const { s, count } = sender({ attempts: 4, backoffMs: 150 });
    s.enqueue('e1', '{"n":1}');
    await until('four attempts', () => got.length === 4, 8000);
    await until('counted failed', async () => (await count('failed')) === 1);
    await s.stop();
    assert.deepEqual(
      got.map((g) => g.attempt),
      [1, 2, 3, 4],
    );
    assert.ok(got.every((g) => g.verified && g.body === '{"n":1}'));
    const gaps = got.slice(1).map((g, i) => g.at - got[i]!.at);
    // 150, 300, 600 ms (plus the round trip): each wait at least its backoff, and doubling.
    assert.ok(gaps[0]! >= 140 && gaps[1]! >= 290 && gaps[2]! >= 590, `gaps ${gaps.join(',')}`);
    assert.ok(gaps[2]! > gaps[0]! * 2.5, `doubling: ${gaps.join(',')}`);
    assert.equal(await count('retry'), 3);
  });

  it('delivers in order, and keeps at most `queue` waiting (the oldest waiting is dropped)', async () => {
    got.length = 0;
    answer = () => 204;
    hold = 200;
    const { s, count } = sender({ queue: 3 });
    for (let i = 1; i <= 6; i++) s.enqueue(`e${i}`, JSON.stringify({ n: i }));
    await until('queue drained', () => s.pending === 0, 8000);
    await s.stop();
    hold = 0;
    const order = got.map((g) => (JSON.parse(g.body) as { n: number }).n);
    // e1 in flight; e2..e6 arrive with room for two waiting beside it: 2, 3, 4 dropped in turn.
    assert.deepEqual(order, [1, 5, 6]);
    assert.equal(await count('dropped'), 3);
    assert.equal(await count('ok'), 3);
  });

  it('a receiver that recovers gets the delivery on a later attempt', async () => {
    got.length = 0;
    let calls = 0;
    answer = () => (++calls <= 2 ? 500 : 200);
    const { s, count } = sender({ backoffMs: 50 });
    s.enqueue('e1', '{"n":1}');
    await until('delivered', async () => (await count('ok')) === 1, 5000);
    await s.stop();
    assert.deepEqual(
      got.map((g) => g.attempt),
      [1, 2, 3],
    );
  });
});
