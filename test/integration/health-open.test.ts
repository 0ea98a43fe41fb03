// Health in the open, end to end: two real Cirrus instances (vantages) on one real
// redis-server probe two edge stand-ins on 127.0.0.40/41. `dig TXT _health.<base name>`
// lists the nodes with state, since when and both vantages' votes; /api/v1/health gives the
// same per node, family and vantage; the leader alone writes each transition to the stream
// cdn:health:events (read back with redis-cli XRANGE) and posts it to a real HTTP receiver
// that fails the first two attempts of every delivery and checks every signature.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { Edge, until } from '../helpers/edge-server.js';
import { dig } from '../helpers/dig.js';
import { sign, verifySignature } from '../../src/health/webhooks.js';

const run = promisify(execFile);
const SECRET = 'test-webhook-secret-0123456789';

interface Delivery {
  event: string;
  attempt: number;
  status: number;
  verified: boolean;
  body: Record<string, unknown>;
}

/** A webhook receiver: answers 500 to the first two attempts of each event, 204 after. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  private server: Server | undefined;
  url = '';
  async start(): Promise<this> {
    const attempts = new Map<string, number>();
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const event = String(req.headers['x-cirrus-event']);
        const n = (attempts.get(event) ?? 0) + 1;
        attempts.set(event, n);
        const verified = verifySignature(
          SECRET,
          req.headers['x-cirrus-timestamp'] as string | undefined,
          raw,
          req.headers['x-cirrus-signature'] as string | undefined,
        );
        const status = !verified ? 401 : n <= 2 ? 500 : 204;
        this.deliveries.push({
          event,
          attempt: Number(req.headers['x-cirrus-attempt']),
          status,
          verified,
          body: JSON.parse(raw) as Record<string, unknown>,
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }
  /** Events delivered (answered 2xx), in order. */
  get accepted(): Record<string, unknown>[] {
    return this.deliveries.filter((d) => d.status === 204).map((d) => d.body);
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}

describe('health in the open: _health, /api/v1/health, events stream and webhooks', () => {
  let redis: RedisServer;
  let receiver: Receiver;
  let a: RunningCirrus;
  let b: RunningCirrus;
  const edges: Edge[] = [];
  let base = '';

  const vantage = (instanceId: string, extra: Record<string, unknown> = {}) =>
    startCirrus({
      store: { redisUrl: redis.url },
      health: {
        instanceId,
        recheckMs: 200,
        viewTtlSec: 10,
        lockTtlMs: 3000,
        probe: { type: 'http', intervalSec: 1, rise: 1, fall: 2, timeoutMs: 400 },
        events: { webhooks: [{ url: receiver.url, secret: SECRET }], backoffMs: 100 },
      },
      ...extra,
    });

  before(async () => {
    redis = await startRedis();
    receiver = await new Receiver().start();
    for (const ip of ['127.0.0.40', '127.0.0.41']) edges.push(await new Edge(ip).start());
    a = await vantage('vantage-a');
    // b refuses the debug names to loopback: the access list applies to _health too.
    b = await vantage('vantage-b', { debug: { allow: ['10.0.0.0/8'] } });
    const nodes = edges.map((e, i) => ({
      id: `edge-${i}`,
      ipv4: e.ip,
      ...(i === 0 ? { ipv6: '2001:db8::40' } : {}),
      pool: i === 0 ? 'fra' : 'iad',
      probe: { port: e.port },
    }));
    assert.equal((await api(a, 'PUT', '/api/v1/nodes', nodes)).status, 200);
    const d = await api(a, 'POST', '/api/v1/domains', {
      domain: 'open.example.org',
      origins: [{ address: '203.0.113.1' }],
    });
    assert.equal(d.status, 201);
    base = d.json.cname;
    await until(
      'both nodes up with both votes',
      async () => {
        const h = (await api(a, 'GET', '/api/v1/health')).json;
        return (
          h.nodes.length === 2 &&
          h.nodes.every(
            (n: { state: string; votes: { state: string }[] }) =>
              n.state === 'up' && n.votes.length === 2 && n.votes.every((v) => v.state === 'up'),
          )
        );
      },
      15000,
    );
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await Promise.all(edges.map((e) => e.stop()));
    await receiver?.stop();
    await redis?.stop();
  });

  it('dig TXT _health.<base name> lists each node, its state, since when and the votes', async () => {
    const r = await dig(a.dnsPort, [`_health.${base}`, 'TXT']);
    assert.equal(r.status, 'NOERROR');
    const text = r.answer.map((l) => /"(.*)"$/.exec(l)?.[1] ?? l);
    assert.equal(text.length, 3, text.join('\n'));
    assert.match(
      text[0]!,
      new RegExp(
        `^1 ${base.replace(/\./g, '\\.')} 2 node\\(s\\) in pool\\(s\\) fra,iad; seen by vantage-`,
      ),
    );
    assert.match(
      text[1]!,
      /^2 edge-0 pool fra v4\+v6; up since \d{4}-\d\d-\d\dT[\d:.]+Z; serving; votes vantage-a=up vantage-b=up$/,
    );
    assert.match(
      text[2]!,
      /^3 edge-1 pool iad v4; up since .*Z; serving; votes vantage-a=up vantage-b=up$/,
    );
    assert.ok(
      r.answer.every((l) => / 0 IN TXT /.test(l)),
      'TTL 0',
    );
    // Leader or not, each instance's board holds the same state and since when.
    const boards = await Promise.all(
      [a, b].map(async (r) => (await api(r, 'GET', '/api/v1/health')).json),
    );
    assert.equal(boards.filter((h) => h.leader).length, 1, 'one leader');
    await until('the other instance read the records', async () => {
      const [ha, hb] = await Promise.all(
        [a, b].map(async (r) => (await api(r, 'GET', '/api/v1/health')).json),
      );
      const since = (h: { nodes: { id: string; state: string; lastChange: string | null }[] }) =>
        h.nodes.map((n) => `${n.id} ${n.state} ${n.lastChange}`).join(',');
      return (
        since(ha) === since(hb) &&
        ha.nodes.every((n: { lastChange: string | null }) => n.lastChange)
      );
    });
    const refused = await dig(b.dnsPort, [`_health.${base}`, 'TXT']);
    assert.equal(refused.status, 'REFUSED', 'outside the debug access list');
    const nodata = await dig(a.dnsPort, [`_health.${base}`, 'A']);
    assert.equal(nodata.status, 'NOERROR');
    assert.equal(nodata.answer.length, 0);
  });

  it('a node going down: /api/v1/health, _health, one event per transition in the stream and the webhook', async () => {
    await edges[1]!.stop();
    await until(
      'edge-1 down on both vantages',
      async () => {
        const h = (await api(a, 'GET', '/api/v1/health')).json;
        const n = h.nodes.find((x: { id: string }) => x.id === 'edge-1');
        return (
          n?.state === 'down' &&
          n.votes.filter((v: { state: string }) => v.state === 'down').length === 2
        );
      },
      15000,
    );
    const h = (await api(a, 'GET', '/api/v1/health')).json;
    const n1 = h.nodes.find((x: { id: string }) => x.id === 'edge-1');
    assert.deepEqual(n1.families, { ipv4: '127.0.0.41', ipv6: null });
    assert.equal(n1.address, '127.0.0.41');
    assert.deepEqual(
      n1.votes.map((v: { instance: string }) => v.instance),
      ['vantage-a', 'vantage-b'],
    );
    assert.match(n1.votes[0].lastError, /ECONNREFUSED/);
    assert.ok(n1.lastChange, 'since when');
    const n0 = h.nodes.find((x: { id: string }) => x.id === 'edge-0');
    assert.deepEqual(n0.families, { ipv4: '127.0.0.40', ipv6: '2001:db8::40' });

    const r = await dig(a.dnsPort, [`_health.${base}`, 'TXT']);
    assert.ok(
      r.answer.some((l) =>
        /edge-1 pool iad v4; down since .*; not serving; votes vantage-a=down vantage-b=down; error .*ECONNREFUSED/.test(
          l,
        ),
      ),
      r.answer.join('\n'),
    );

    // The stream, as redis-cli prints it: id, then field/value lines.
    const port = String(redis.port);
    const { stdout } = await run('redis-cli', [
      '-p',
      port,
      '--no-raw',
      'XRANGE',
      'cdn:health:events',
      '-',
      '+',
    ]);
    const { stdout: rawOut } = await run('redis-cli', [
      '-p',
      port,
      'XRANGE',
      'cdn:health:events',
      '-',
      '+',
    ]);
    const lines = rawOut.split('\n').filter(Boolean);
    const entries: Record<string, string>[] = [];
    for (let i = 0; i < lines.length; i++) {
      if (/^\d+-\d+$/.test(lines[i]!)) entries.push({});
      else if (entries.length && i + 1 < lines.length) {
        entries.at(-1)![lines[i]!] = lines[i + 1]!;
        i++;
      }
    }
    const mine = entries.map((e) => `${e.node} ${e.previous}->${e.state}`);
    assert.deepEqual(
      mine.sort(),
      ['edge-0 unknown->up', 'edge-1 unknown->up', 'edge-1 up->down'],
      `each transition once however many vantages:\n${stdout}`,
    );
    const down = entries.find((e) => e.state === 'down')!;
    assert.equal(down.pool, 'iad');
    assert.equal(down.active, '0');
    assert.match(down.reason!, /ECONNREFUSED/);
    assert.match(down.instance!, /^vantage-[ab]$/);
    assert.equal(JSON.parse(down.votes!).down, 2);
    assert.equal(
      (await run('redis-cli', ['-p', port, 'TYPE', 'cdn:health:events'])).stdout.trim(),
      'stream',
    );

    const evr = await api(b, 'GET', '/api/v1/health/events?count=1');
    const ev = evr.json;
    assert.equal(evr.status, 200, JSON.stringify(ev));
    assert.equal(ev.length, 1);
    assert.equal(ev[0].node, 'edge-1');
    assert.equal(ev[0].state, 'down');
    assert.equal((await api(b, 'GET', '/api/v1/health/events?count=0')).status, 400);

    // The webhook: every event, signed, delivered on the third attempt after two 500s.
    await until('three events delivered', () => receiver.accepted.length === 3, 10000);
    assert.ok(
      receiver.deliveries.every((d) => d.verified),
      'every signature verifies',
    );
    const byEvent = new Map<string, Delivery[]>();
    for (const d of receiver.deliveries) byEvent.set(d.event, [...(byEvent.get(d.event) ?? []), d]);
    for (const [id, ds] of byEvent) {
      assert.deepEqual(
        ds.map((d) => [d.attempt, d.status]),
        [
          [1, 500],
          [2, 500],
          [3, 204],
        ],
        id,
      );
    }
    const hookDown = receiver.accepted.find((e) => e.state === 'down')!;
    assert.equal(hookDown.node, 'edge-1');
    assert.equal(hookDown.pool, 'iad');
    assert.equal(hookDown.previous, 'up');
    assert.match(String(hookDown.reason), /ECONNREFUSED/);
    assert.match(String(hookDown.time), /^\d{4}-\d\d-\d\dT/);
    assert.equal(hookDown.id, down.id, 'the stream entry and the delivery are one event');
    const metrics =
      (await (await fetch(`${a.apiUrl}/metrics`)).text()) +
      (await (await fetch(`${b.apiUrl}/metrics`)).text());
    assert.match(
      metrics,
      /cirrus_health_webhook_deliveries_total\{hook="0",result="retry"\} [1-9]/,
    );
  });

  it('a receiver rejects a tampered body or an old timestamp', () => {
    const body = '{"node":"edge-1","state":"down"}';
    const ts = Math.floor(Date.now() / 1000);
    const sig = sign(SECRET, ts, body);
    assert.match(sig, /^sha256=[0-9a-f]{64}$/);
    assert.equal(verifySignature(SECRET, String(ts), body, sig), true);
    assert.equal(verifySignature(SECRET, String(ts), body.replace('down', 'up'), sig), false);
    assert.equal(verifySignature('another-secret-0123456', String(ts), body, sig), false);
    const old = ts - 3600;
    assert.equal(verifySignature(SECRET, String(old), body, sign(SECRET, old, body)), false);
  });
});
