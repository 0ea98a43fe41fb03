// PROXY protocol v2 header parsing (HAProxy proxy-protocol.txt section 2.2), table-driven
// over hand-written bytes, and the header builder read back by the parser.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildProxyV2, parseProxyV2, PROXY_V2_SIGNATURE } from '../../src/wire/proxy-v2.js';

const sig = PROXY_V2_SIGNATURE.toString('hex');
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('parseProxyV2', () => {
  const cases: Array<[string, Buffer, unknown]> = [
    [
      'PROXY over UDP, IPv4 193.0.6.139:4242 → 127.0.0.1:53, then a DNS message',
      hex(`${sig} 21 12 000c c1 00 06 8b 7f 00 00 01 10 92 00 35 abcd`),
      {
        kind: 'header',
        length: 28,
        command: 'proxy',
        source: { address: '193.0.6.139', port: 4242 },
      },
    ],
    [
      'PROXY over TCP, IPv6 2001:db8::1:53 with a TLV after the addresses',
      hex(
        `${sig} 21 21 0027 20010db8000000000000000000000001 00000000000000000000000000000001 0035 0035 04 0000`,
      ),
      {
        kind: 'header',
        length: 55,
        command: 'proxy',
        source: { address: '2001:db8::1', port: 53 },
      },
    ],
    [
      'LOCAL: the connection address stands',
      hex(`${sig} 20 00 0000`),
      { kind: 'header', length: 16, command: 'local' },
    ],
    [
      'PROXY of family UNSPEC: no source',
      hex(`${sig} 21 00 0000`),
      { kind: 'header', length: 16, command: 'proxy' },
    ],
    ['a DNS query', hex('abcd 0100 0001 0000 0000 0000'), { kind: 'none' }],
    ['the first bytes of a signature', hex('0d0a0d0a00'), { kind: 'incomplete' }],
    [
      'the signature and half the address block',
      hex(`${sig} 21 11 000c c1 00`),
      { kind: 'incomplete' },
    ],
    ['version 1 nibble', hex(`${sig} 11 11 0000`), { kind: 'invalid', reason: 'version 1' }],
    ['command 2', hex(`${sig} 22 11 0000`), { kind: 'invalid', reason: 'command 2' }],
    [
      'IPv4 family with a short block',
      hex(`${sig} 21 11 0004 c1000601`),
      { kind: 'invalid', reason: 'short IPv4 address block' },
    ],
  ];
  for (const [name, bytes, want] of cases)
    it(name, () => assert.deepEqual(parseProxyV2(bytes), want));
});

describe('buildProxyV2', () => {
  it('writes headers the parser reads back', () => {
    for (const [src, dst] of [
      [
        { address: '8.8.8.8', port: 1 },
        { address: '127.0.0.1', port: 53 },
      ],
      [
        { address: '2a00:1450::1', port: 65535 },
        { address: '::1', port: 53 },
      ],
    ] as const) {
      const h = buildProxyV2(src, dst, 'dgram');
      assert.deepEqual(parseProxyV2(Buffer.concat([h, hex('abcd')])), {
        kind: 'header',
        length: h.length,
        command: 'proxy',
        source: src,
      });
    }
  });
});
