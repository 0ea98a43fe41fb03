// The batched UDP addon (native/udp-batch) through its listener (src/dns/udp-batch.ts),
// over real loopback sockets: bursts from many source addresses and ports are received in
// batches and every reply reaches the datagram's own source; the handler gets exactly what
// the node:dgram listener hands it; a datagram longer than the receive slot is dropped and
// counted while the rest of its batch is answered; replies settled later go out too; IPv6;
// two sockets on one port with reusePort; closing from inside a batch stops at once and
// frees the port. CI builds the addon (test/run.sh); without it this file fails, unless
// CIRRUS_UDP_BATCH=off says the machine runs without it.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { BatchUdpListener, STAT, loadUdpBatch, resolveUdpPath } from '../../src/dns/udp-batch.js';
import { UdpListener } from '../../src/dns/udp.js';
import type { Handler } from '../../src/pipeline/handler.js';
import { silentLogger } from '../../src/lib/logger.js';
import { sleep } from '../helpers/wait.js';

const off = (process.env.CIRRUS_UDP_BATCH ?? '').toLowerCase() === 'off';
const logger = silentLogger();

async function client(address: string): Promise<Socket> {
  const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  return s;
}

/** Retries `check` every 10 ms until it stops throwing, or throws its error at `ms`. */
async function until(check: () => void, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(10);
    }
  }
}

/** Echo: the reply names the source the handler was given, then the payload. */
const echo: Handler = (msg, _t, address, port) =>
  Buffer.concat([Buffer.from(`${address}|${port}|`), msg]);

describe('batched UDP addon', { skip: off && 'CIRRUS_UDP_BATCH=off' }, () => {
  const open: Array<{ stop(): Promise<void> }> = [];
  const sockets: Socket[] = [];
  after(async () => {
    await Promise.all(open.map((l) => l.stop()));
    for (const s of sockets) s.close();
  });

  async function listen(
    handler: Handler,
    opts: { host?: string; port?: number; slot?: number; reusePort?: boolean } = {},
  ): Promise<{ listener: BatchUdpListener; port: number }> {
    const listener = new BatchUdpListener(
      opts.host ?? '127.0.0.1',
      handler,
      logger,
      opts.reusePort ?? false,
      opts.slot ? { slot: opts.slot } : {},
    );
    open.push(listener);
    const port = await listener.start(opts.port ?? 0);
    return { listener, port };
  }

  it('is built and loads', () => {
    const l = loadUdpBatch();
    assert.ok('addon' in l, 'error' in l ? l.error : '');
  });

  it('is the path dns.udpBatch picks: auto and on take it, off and a shared socket do not', () => {
    assert.equal(resolveUdpPath('auto').path, 'batched');
    assert.equal(resolveUdpPath('on').path, 'batched');
    assert.equal(resolveUdpPath('off').path, 'dgram');
    assert.equal(resolveUdpPath('auto', false).path, 'dgram');
    assert.throws(() => resolveUdpPath('on', false), /dns\.udpBatch is on/);
  });

  it('answers bursts from 100 sources in batches, each reply to its own source', async () => {
    const { listener, port } = await listen(echo);
    const clients: Socket[] = [];
    // 100 sockets over 50 loopback addresses: two ports per address.
    for (let i = 0; i < 100; i++) clients.push(await client(`127.0.0.${2 + (i % 50)}`));
    sockets.push(...clients);
    const got = clients.map(() => [] as string[]);
    clients.forEach((c, i) => c.on('message', (m) => got[i]?.push(m.toString())));
    const ROUNDS = 10;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, c] of clients.entries()) c.send(`q${round}-${i}`, port, '127.0.0.1');
      await until(() => assert.ok(got.every((g) => g.length === round + 1)), 10_000);
    }
    for (const [i, c] of clients.entries()) {
      const { address, port: p } = c.address();
      const expected = Array.from({ length: ROUNDS }, (_, r) => `${address}|${p}|q${r}-${i}`);
      assert.deepEqual(got[i]?.sort(), expected.sort());
    }
    const stats = listener.stats() as number[];
    assert.equal(stats[STAT.datagrams], 100 * ROUNDS);
    assert.equal(stats[STAT.sent], 100 * ROUNDS);
    // Each round's 100 datagrams arrive while this process is busy sending them: they are
    // read in batches, not one wake-up each.
    assert.ok(
      (stats[STAT.batches] as number) < (100 * ROUNDS) / 4,
      `batches ${stats[STAT.batches]}`,
    );
  });

  it('hands the handler exactly what the node:dgram listener hands it', async () => {
    type Seen = [string, string, string, number];
    const seen: { dgram: Seen[]; batched: Seen[] } = { dgram: [], batched: [] };
    const recorder =
      (into: Seen[]): Handler =>
      (msg, transport, address, port) => {
        into.push([msg.toString('hex'), transport, address, port]);
        return Buffer.from('ok');
      };
    const dgram = new UdpListener('127.0.0.1', recorder(seen.dgram), logger);
    open.push(dgram);
    const dgramPort = await dgram.start(0);
    const { port } = await listen(recorder(seen.batched));
    const c = await client('127.0.0.9');
    sockets.push(c);
    let replies = 0;
    c.on('message', () => replies++);
    const payloads = [Buffer.alloc(0), Buffer.from([0x0d, 0x0a]), Buffer.alloc(4000, 7)];
    for (const p of payloads) {
      c.send(p, dgramPort, '127.0.0.1');
      c.send(p, port, '127.0.0.1');
    }
    await until(() => assert.equal(replies, 6), 10_000);
    assert.deepEqual(seen.batched, seen.dgram);
    assert.equal(seen.batched[0]?.[2], '127.0.0.9');
  });

  it('keeps a datagram the handler holds intact after later batches', async () => {
    const held: Buffer[] = [];
    const { port } = await listen((msg) => {
      held.push(msg);
      return Buffer.from('ok');
    });
    const c = await client('127.0.0.1');
    sockets.push(c);
    let replies = 0;
    c.on('message', () => replies++);
    for (let i = 0; i < 50; i++) c.send(`datagram-${i}`, port, '127.0.0.1');
    await until(() => assert.equal(replies, 50), 10_000);
    assert.deepEqual(
      held.map((b) => b.toString()).sort(),
      Array.from({ length: 50 }, (_, i) => `datagram-${i}`).sort(),
    );
  });

  it('drops a datagram longer than its slot, counts it, and answers the rest', async () => {
    const { listener, port } = await listen(echo, { slot: 512 });
    const c = await client('127.0.0.1');
    sockets.push(c);
    const got: string[] = [];
    c.on('message', (m) => got.push(m.toString().split('|')[2] as string));
    c.send('before', port, '127.0.0.1');
    c.send(Buffer.alloc(513, 0x61), port, '127.0.0.1');
    c.send(Buffer.alloc(512, 0x62), port, '127.0.0.1');
    c.send('after', port, '127.0.0.1');
    await until(() => assert.equal(got.length, 3), 10_000);
    assert.deepEqual(got.sort(), ['after', 'b'.repeat(512), 'before']);
    await until(() => assert.equal(listener.stats()?.[STAT.oversized], 1), 5_000);
  });

  it('sends replies the handler settles later (exchanges)', async () => {
    const { port } = await listen((msg, t, address, p) =>
      msg.toString() === 'later'
        ? new Promise((resolve) => setTimeout(() => resolve([Buffer.from('settled')]), 20))
        : echo(msg, t, address, p),
    );
    const c = await client('127.0.0.1');
    sockets.push(c);
    const got: string[] = [];
    c.on('message', (m) => got.push(m.toString()));
    c.send('later', port, '127.0.0.1');
    c.send('now', port, '127.0.0.1');
    await until(() => assert.equal(got.length, 2), 10_000);
    assert.equal(got[1], 'settled');
  });

  it('answers over IPv6 with the source written as dgram writes it', async () => {
    const { port } = await listen(echo, { host: '::1' });
    const c = await client('::1');
    sockets.push(c);
    const got: string[] = [];
    c.on('message', (m) => got.push(m.toString()));
    c.send('six', port, '::1');
    await until(() => assert.equal(got.length, 1), 10_000);
    assert.equal(got[0], `::1|${c.address().port}|six`);
  });

  it('binds two sockets on one port with reusePort, and refuses a second without', async () => {
    const a = await listen(echo, { reusePort: true });
    const b = await listen(echo, { reusePort: true, port: a.port });
    assert.equal(b.port, a.port);
    await assert.rejects(listen(echo, { port: a.port }), { code: 'EADDRINUSE' });
  });

  it('stops at once when closed inside a batch, and frees the port', async () => {
    let calls = 0;
    const self: { listener?: BatchUdpListener } = {};
    const started = await listen((msg, t, address, p) => {
      calls++;
      if (calls === 5) void self.listener?.stop();
      return echo(msg, t, address, p);
    });
    const listener = started.listener;
    self.listener = listener;
    const c = await client('127.0.0.1');
    sockets.push(c);
    for (let i = 0; i < 50; i++) c.send(`busy-${i}`, started.port, '127.0.0.1');
    await until(() => assert.equal(calls, 5), 10_000);
    await sleep(200);
    assert.equal(calls, 5, 'no datagram is handed over after close');
    assert.equal(listener.stats(), undefined);
    // The descriptor is closed already: the same port binds again without reusePort.
    const again = await listen(echo, { port: started.port });
    const got: string[] = [];
    c.on('message', (m) => got.push(m.toString()));
    c.send('again', again.port, '127.0.0.1');
    await until(() => assert.ok(got.some((g) => g.endsWith('|again'))), 10_000);
  });

  it('survives a handler that throws, answering the rest of the batch', async () => {
    const { port } = await listen((msg, t, address, p) => {
      if (msg.toString() === 'boom') throw new Error('boom');
      return echo(msg, t, address, p);
    });
    const c = await client('127.0.0.1');
    sockets.push(c);
    const got: string[] = [];
    c.on('message', (m) => got.push(m.toString().split('|')[2] as string));
    for (const p of ['a', 'boom', 'b']) c.send(p, port, '127.0.0.1');
    await until(() => assert.equal(got.length, 2), 10_000);
    assert.deepEqual(got.sort(), ['a', 'b']);
  });
});
