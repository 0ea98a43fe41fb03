// Bench only: the floor of any DNS server written on Node's `dgram` and `net` — it
// answers every query with the query itself, QR and AA set (NOERROR, no records), over
// UDP and TCP (RFC 1035 §4.2.2 framing, pipelined). No parsing, no lookup, no encoding:
// what it costs per query is what Node's sockets cost. `node bench/node-echo.mjs PORT`;
// `node bench/node-echo.mjs PORT batched` answers UDP through Cirrus's batched listener
// (dist/src/dns/udp-batch.js over the native/udp-batch addon) instead of node:dgram.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
const batched = process.argv[3] === 'batched';
const answer = (m) => {
  m[2] = (m[2] ?? 0) | 0x84;
  return m;
};

if (batched) {
  const { BatchUdpListener } = await import('../dist/src/dns/udp-batch.js');
  const logger = { error: (o, msg) => console.error(msg, o) };
  await new BatchUdpListener('127.0.0.1', (m) => answer(m), logger).start(port);
} else {
  const udp = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  udp.on('message', (m, r) => udp.send(answer(m), r.port, r.address));
  udp.bind(port, '127.0.0.1');
}

createServer((conn) => {
  let buf = Buffer.alloc(0);
  conn.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      const frame = Buffer.from(buf.subarray(0, 2 + len));
      answer(frame.subarray(2));
      conn.write(frame);
      buf = buf.subarray(2 + len);
    }
  });
  conn.on('error', () => conn.destroy());
}).listen(port, '127.0.0.1');
