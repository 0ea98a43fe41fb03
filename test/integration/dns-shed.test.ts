// Load shedding over real UDP: queries read while the event loop is far behind (here a
// 400 ms stall, as a long GC pause or a CPU-starved process makes) are dropped unanswered
// and counted in cirrus_dns_shed_total; once the loop keeps up, queries are answered
// again; TCP is never shed. An offered overload's socket backlog is shed and counted.
// TCP connections are bounded per client prefix.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { tcpExchange } from '../golden/exchange.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { buildQuery } from '../helpers/wire.js';
import { dig } from '../helpers/dig.js';

const ZONE = 'cdn.example.net';

/** Blocks this process's event loop (the server's too: it runs here) for `ms`. */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

async function shedCount(run: RunningCirrus): Promise<number> {
  const text = (await api(run, 'GET', '/metrics')).json as string;
  return Number(/^cirrus_dns_shed_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

describe('load shedding', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({ dns: { shed: { maxLagMs: 100, sampleMs: 10 } } });
  });
  after(() => run.stop());

  it('drops the queries read during a stall, counts them, then answers again', async () => {
    assert.equal(await shedCount(run), 0);
    // Another process sends 40 queries while this one (the server's) is stalled; the
    // datagrams wait in the server's socket buffer. It prints how many were answered.
    const query = buildQuery({ id: 7, name: ZONE, type: 6 }).toString('hex');
    // It says when its socket is ready, so the stall starts only then (a busy machine may
    // take a second to start a process), sends 300 ms into the stall, and counts answers
    // for 3 s after sending.
    const child = spawn(process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4'); let n = 0;
       s.on('message', () => n++);
       s.bind(0, '127.0.0.1', () => {
         console.log('ready');
         setTimeout(() => { for (let i = 0; i < 40; i++) s.send(Buffer.from('${query}', 'hex'), ${run.dnsPort}, '127.0.0.1'); }, 300);
         setTimeout(() => { console.log(n); s.close(); }, 3300);
       });`,
    ]);
    let out = '';
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.startsWith('ready\n')) resolve();
      }),
    );
    const exited = new Promise((r) => child.on('exit', r));
    await ready;
    stall(1000);
    await exited;
    out = out.slice('ready\n'.length);
    const answered = Number(out.trim());
    const shed = await shedCount(run);
    assert.ok(shed > 0, 'queries read after the stall were shed');
    assert.equal(answered + shed, 40, `${answered} answered, ${shed} shed`);
    // The loop keeps up again: answered (a resolver retries; the shedding episode ends once
    // the lag is back under half the bound).
    let status = '';
    for (let i = 0; i < 4 && status !== 'NOERROR'; i++)
      status = await dig(run.dnsPort, [ZONE, 'SOA']).then(
        (d) => d.status,
        () => 'no answer',
      );
    assert.equal(status, 'NOERROR');
    const tcp = await dig(run.dnsPort, [ZONE, 'SOA', '+tcp']);
    assert.equal(tcp.status, 'NOERROR');
  });
});

describe('load shedding of a socket backlog', () => {
  let run: RunningCirrus;
  before(async () => {
    // The lag bound off: only the backlog (full loop turns for 10 ms) sheds here.
    run = await startCirrus({ dns: { shed: { maxLagMs: 0, maxBacklogMs: 10 } } });
  });
  after(() => run.stop());

  it('answers what it can, sheds the backlog of an offered overload and counts it', async () => {
    const before = await shedCount(run);
    // Another process offers 4,000 queries at once while this process (the server's) is
    // busy, so they wait in the socket: far more than it answers in 10 ms. Every query is
    // either answered or shed (the socket buffers hold them all, and the answers a batch
    // sends at once: nothing else is lost).
    const n = 4000;
    const query = buildQuery({ id: 7, name: ZONE, type: 6 }).toString('hex');
    const child = spawn(process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 1 << 22 });
       let n = 0;
       const q = Buffer.from('${query}', 'hex');
       s.on('message', () => n++);
       s.bind(0, '127.0.0.1', () => {
         console.log('ready');
         setTimeout(() => { for (let i = 0; i < ${n}; i++) s.send(q, ${run.dnsPort}, '127.0.0.1'); }, 200);
         setTimeout(() => { console.log(n); s.close(); }, 4000);
       });`,
    ]);
    let out = '';
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.startsWith('ready\n')) resolve();
      }),
    );
    const exited = new Promise((r) => child.on('exit', r));
    await ready;
    stall(1500); // the sends land in the socket meanwhile; the lag bound is off here
    await exited;
    const answered = Number(out.slice('ready\n'.length).trim());
    const shed = (await shedCount(run)) - before;
    assert.ok(shed > 0, `a backlog was shed (answered ${answered})`);
    assert.ok(answered > 0, 'what could be answered in time was');
    assert.equal(answered + shed, n, `${answered} answered + ${shed} shed`);
    const d = await dig(run.dnsPort, [ZONE, 'SOA']);
    assert.equal(d.status, 'NOERROR', 'answered again once the backlog is gone');
  });
});

describe('TCP bounds per client prefix', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({ dns: { tcpMaxConnectionsPerPrefix: 2 } });
  });
  after(() => run.stop());

  /** A connection once it is open, or closed by the server; resolves with which. */
  const open = (port: number) =>
    new Promise<{ socket: Socket; closedAtOnce: boolean }>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => undefined);
      socket.once('connect', () => {
        // A refused one is closed by the server right after the handshake.
        const timer = setTimeout(() => resolve({ socket, closedAtOnce: false }), 200);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve({ socket, closedAtOnce: true });
        });
      });
    });

  it('closes a connection beyond the prefix limit and takes one again when a slot frees', async () => {
    const a = await open(run.dnsPort);
    const b = await open(run.dnsPort);
    assert.equal(a.closedAtOnce || b.closedAtOnce, false);
    const c = await open(run.dnsPort);
    assert.equal(c.closedAtOnce, true, 'a third connection from 127.0.0.0/24 is closed');
    const { responses } = await tcpExchangeCaught(run.dnsPort);
    assert.equal(responses, 0, 'no query is answered beyond the limit');
    a.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const d = await dig(run.dnsPort, [ZONE, 'SOA', '+tcp']);
    assert.equal(d.status, 'NOERROR', 'a freed slot takes a new connection');
    b.socket.destroy();
  });
});

/** How many replies a TCP query gets (0 when the server closes the connection). */
async function tcpExchangeCaught(port: number): Promise<{ responses: number }> {
  try {
    return {
      responses: (await tcpExchange(port, buildQuery({ name: ZONE, type: 6 }))).responses.length,
    };
  } catch {
    return { responses: 0 };
  }
}
