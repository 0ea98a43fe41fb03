// The port DNS workers are given for port 0 must take both the workers' UDP sockets and
// the main process's TCP listener.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { freeUdpTcpPort } from '../../src/dns/udp.js';

describe('freeUdpTcpPort', () => {
  it('returns a port on which a TCP listener and a UDP socket both bind', async () => {
    for (let i = 0; i < 5; i++) {
      const port = await freeUdpTcpPort('127.0.0.1');
      assert.ok(port > 0 && port < 65536);
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port }, resolve);
      });
      const udp = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, '127.0.0.1', resolve);
      });
      udp.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('skips a port whose UDP side is taken', async () => {
    // Hold UDP on many ports: none of the answers may be one of them.
    const held = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const s = createSocket('udp4');
        await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
        return s;
      }),
    );
    const taken = new Set(held.map((s) => s.address().port));
    try {
      for (let i = 0; i < 20; i++) assert.ok(!taken.has(await freeUdpTcpPort('127.0.0.1')));
    } finally {
      for (const s of held) s.close();
    }
  });
});
