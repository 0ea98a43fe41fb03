// The DNS server's lifecycle over real sockets: create → start → stop, where a started
// server answers over UDP and TCP (real dig), stop releases every port, and stop also
// closes what a start that failed half-way had opened (one listen address bound, the next
// one taken).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { Registry } from 'prom-client';
import { finishConfig } from '../../src/config/load.js';
import { DnsServer } from '../../src/dns/server.js';
import { silentLogger } from '../../src/lib/logger.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { tableGeo } from '../helpers/table-geo.js';
import { dig } from '../helpers/dig.js';
import { testUdpBatch, testUdpPath } from '../helpers/cirrus.js';

function server(listen: string[]): DnsServer {
  const config = finishConfig({ dns: { listen, udpBatch: testUdpBatch() } }, 'test config');
  const snapshot = buildSnapshot({
    config,
    state: { domains: [], nodes: [], zoneText: null, policy: null },
    generation: 1,
    serial: 7,
    contentHash: 'x',
  });
  return new DnsServer({
    config,
    snapshot: () => snapshot,
    logger: silentLogger(),
    registry: new Registry(),
    geo: tableGeo([]),
  });
}

/** Resolves once UDP and TCP on 127.0.0.1:port can both be bound, then lets them go. */
async function portFree(port: number): Promise<void> {
  const udp = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve) => udp.close(() => resolve()));
  const tcp = createServer();
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
}

describe('DnsServer lifecycle', () => {
  it('answers over UDP and TCP once started, and frees its ports at stop', async () => {
    const dns = server(['127.0.0.1:0']);
    await dns.start();
    const port = (dns.addresses[0] as { port: number }).port;
    assert.equal(dns.udpPath, testUdpPath());
    try {
      // The first answer of a fresh process can take over dig's 2 s on a busy machine:
      // retried as a resolver would, so the test asserts that UDP answers, not how fast.
      const udp = await dig(port, ['+tries=3', 'cdn.example.net', 'SOA']);
      assert.equal(udp.status, 'NOERROR');
      assert.match(udp.answer.join('\n'), /\sSOA\s.*\s7\s/);
      const tcp = await dig(port, ['+tcp', 'cdn.example.net', 'SOA']);
      assert.deepEqual(tcp.answer, udp.answer);
    } finally {
      await dns.stop();
    }
    assert.deepEqual(dns.addresses, []);
    await portFree(port);
    await dns.stop(); // a second stop is a no-op
  });

  it('closes what a start that failed half-way opened', async () => {
    // The second listen address's TCP port is taken, so start fails after the first bound.
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const takenPort = (taken.address() as { port: number }).port;
    try {
      const dns = server(['127.0.0.1:0', `127.0.0.1:${takenPort}`]);
      await assert.rejects(dns.start(), { code: 'EADDRINUSE' });
      const first = (dns.addresses[0] as { port: number }).port;
      await dns.stop();
      assert.deepEqual(dns.addresses, []);
      await portFree(first);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
