// Response rate limiting over real sockets: a burst from one source gets `rate` answers,
// every `slip`-th limited one truncated (TC=1, no records) and the rest dropped, counted
// in cirrus_dns_rrl_total; TCP, a valid server cookie and allow-listed networks are
// exempt; the ordinary test servers (rate 0) answer everything.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { buildQuery } from '../helpers/wire.js';
import { tcpExchange } from '../golden/exchange.js';

const ZONE = 'cdn.example.net';
const RATE = 5;

interface Burst {
  answered: number;
  slipped: number;
  replies: Buffer[];
}

/** Sends `n` queries at once from one socket and collects what comes back in `waitMs`. */
async function burst(port: number, make: (id: number) => Buffer, n: number, waitMs = 600) {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  for (let id = 1; id <= n; id++) socket.send(make(id), port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, waitMs));
  socket.close();
  const out: Burst = { answered: 0, slipped: 0, replies };
  for (const r of replies) {
    const tc = ((r[2] as number) & 0x02) !== 0;
    if (tc) {
      out.slipped++;
      assert.deepEqual([r.readUInt16BE(6), r.readUInt16BE(8), r.readUInt16BE(10)], [0, 0, 0]);
    } else out.answered++;
  }
  return out;
}

const soaQuery = (id: number, cookie?: Buffer) =>
  buildQuery({
    id,
    name: ZONE,
    type: 6,
    opt: { udp: 1232, ...(cookie ? { options: [{ code: 10, data: cookie }] } : {}) },
  });

async function rrlCounts(run: RunningCirrus): Promise<Record<string, number>> {
  const text = (await api(run, 'GET', '/metrics')).json as string;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cirrus_dns_rrl_total\{([^}]*)\} (\d+)/gm))
    out[m[1] as string] = Number(m[2]);
  return out;
}

describe('response rate limiting', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({ dns: { rrl: { rate: RATE, slip: 2 } } });
  });
  after(() => run.stop());

  it('answers a burst from one source at the rate, slips every second limited reply, drops the rest', async () => {
    const n = 100;
    const b = await burst(run.dnsPort, (id) => soaQuery(id), n);
    // The bucket starts full (a second's worth) and refills at RATE/s during the burst.
    assert.ok(b.answered >= RATE && b.answered <= RATE + 3, `answered ${b.answered}`);
    const limited = n - b.answered;
    assert.ok(Math.abs(b.slipped - limited / 2) <= 1, `slipped ${b.slipped} of ${limited}`);
    const counts = await rrlCounts(run);
    assert.equal(counts['action="slipped",class="answer"'], b.slipped);
    assert.equal(counts['action="dropped",class="answer"'], limited - b.slipped);
  });

  it('leaves TCP unlimited', async () => {
    for (let id = 1; id <= 3 * RATE; id++) {
      const { responses } = await tcpExchange(run.dnsPort, soaQuery(id));
      assert.equal(responses.length, 1);
      assert.equal((responses[0] as Buffer).readUInt16BE(6), 1, 'an answer');
    }
  });

  it('exempts a client with a valid server cookie', async () => {
    // The server cookie comes back over TCP (not limited), then the burst carries it.
    const client = Buffer.from('0123456789abcdef', 'hex');
    const { responses } = await tcpExchange(run.dnsPort, soaQuery(1, client));
    const reply = responses[0] as Buffer;
    const cookie = reply.subarray(reply.length - 24);
    assert.deepEqual(cookie.subarray(0, 8), client);
    const b = await burst(run.dnsPort, (id) => soaQuery(id, Buffer.from(cookie)), 50);
    assert.equal(b.answered, 50);
    // A wrong server cookie is not a valid one: limited like no cookie.
    const wrong = Buffer.concat([client, Buffer.alloc(16, 1)]);
    const w = await burst(run.dnsPort, (id) => soaQuery(id, wrong), 50);
    assert.ok(w.answered <= RATE + 3, `answered ${w.answered}`);
  });
});

describe('response rate limiting with an allow-list', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({ dns: { rrl: { rate: RATE, allow: ['127.0.0.0/8'] } } });
  });
  after(() => run.stop());

  it('answers every query from an allowed network', async () => {
    const b = await burst(run.dnsPort, (id) => soaQuery(id), 60);
    assert.equal(b.answered, 60);
    assert.equal(b.slipped, 0);
  });
});

describe('response rate limiting off (rate 0, the test default)', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({});
  });
  after(() => run.stop());

  it('answers every query of a burst', async () => {
    const b = await burst(run.dnsPort, (id) => soaQuery(id), 60);
    assert.equal(b.answered, 60);
  });
});

describe('response rate limiting with two DNS workers', () => {
  let run: RunningCirrus;
  const SHARED_RATE = 10;
  before(async () => {
    run = await startCirrus({ dns: { workers: 2, rrl: { rate: SHARED_RATE, slip: 0 } } });
  });
  after(() => run?.stop());

  it('limits a client spread over both workers to the configured rate, not twice it', async () => {
    // 40 sockets (40 source ports, so both workers get a share) × 5 queries at once.
    const sockets = 40;
    const bursts = await Promise.all(
      Array.from({ length: sockets }, (_, s) =>
        burst(run.dnsPort, (id) => soaQuery(s * 5 + id), 5, 900),
      ),
    );
    const answered = bursts.reduce((sum, b) => sum + b.answered, 0);
    // Each worker limits to 5/s with a burst of 5; a little refill during the burst.
    assert.ok(
      answered >= SHARED_RATE / 2 && answered <= SHARED_RATE + 4,
      `answered ${answered} of ${sockets * 5}`,
    );
    const text = (await api(run, 'GET', '/metrics')).json as string;
    const perWorker = [0, 1].map((i) =>
      Number(
        text.match(
          new RegExp(`^cirrus_dns_worker_queries_total\\{worker="${i}"\\} (\\d+)`, 'm'),
        )?.[1] ?? 0,
      ),
    );
    assert.ok(
      perWorker.every((n) => n > 0),
      `both workers saw queries: ${perWorker.join(', ')}`,
    );
  });
});
