// Decode + encode cost per query: Cirrus's serving-path codec against dns2's
// Packet.parse/toBuffer, for the same query and the same one-record answer.
// Run: node --import tsx bench/wire-codec.ts
import dns2 from 'dns2';
import { decodeQuery } from '../src/wire/decode.js';
import { encodeResponse } from '../src/wire/encode.js';
import { RRClass, RRType } from '../src/wire/constants.js';

const { Packet } = dns2;
const query = new Packet();
query.header.id = 1;
query.header.rd = 1;
// dns2's encoder reads plain objects; its typings ask for class instances.
query.questions.push({
  name: 'www-example-com.cdn.example.net',
  type: Packet.TYPE.A,
  class: Packet.CLASS.IN,
} as never);
const wire: Buffer = query.toBuffer();
const rdata = Buffer.from([192, 0, 2, 1]);
const N = 200_000;

function time(label: string, fn: () => void): number {
  for (let i = 0; i < 10_000; i++) fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  const us = Number(process.hrtime.bigint() - t) / 1000 / N;
  console.log(
    `${label.padEnd(34)} ${us.toFixed(2).padStart(7)} µs/query  ${Math.round(1e6 / us)
      .toLocaleString('en')
      .padStart(10)} /s`,
  );
  return us;
}

const ours = time('cirrus decodeQuery + encodeResponse', () => {
  const d = decodeQuery(wire, 'udp', '127.0.0.1', 1);
  if (!d.ok) throw new Error(d.reason);
  encodeResponse(
    d.query,
    {
      rcode: 0,
      authoritative: true,
      answer: [{ name: d.query.qname, type: RRType.A, class: RRClass.IN, ttl: 60, rdata }],
      authority: [],
      additional: [],
    },
    { maxSize: 512, ourUdpSize: 1232, nsid: undefined },
  );
});
const theirs = time('dns2 Packet.parse + toBuffer', () => {
  const req = Packet.parse(wire);
  const res = Packet.createResponseFromRequest(req);
  res.answers.push({
    name: req.questions[0]?.name,
    type: Packet.TYPE.A,
    class: Packet.CLASS.IN,
    ttl: 60,
    address: '192.0.2.1',
  } as never);
  res.toBuffer();
});
console.log(
  `ratio: dns2 costs ${(theirs / ours).toFixed(1)}× the CPU of the serving-path codec per query`,
);
