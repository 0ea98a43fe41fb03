import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeQuery } from '../../src/wire/decode.js';
import { buildQuery, ecsOption } from '../helpers/wire.js';

const decode = (b: Buffer) => decodeQuery(b, 'udp', '127.0.0.1', 5353);

/** Appends a (content-free) TSIG record owned by `key.` and bumps ARCOUNT. */
function withTsig(msg: Buffer, thenOpt = false): Buffer {
  const tsig = Buffer.concat([
    Buffer.from([3, 0x6b, 0x65, 0x79, 0]),
    Buffer.from([0, 250, 0, 255, 0, 0, 0, 0, 0, 0]),
  ]);
  const opt = Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
  const out = Buffer.concat(thenOpt ? [msg, tsig, opt] : [msg, tsig]);
  out.writeUInt16BE(out.readUInt16BE(10) + (thenOpt ? 2 : 1), 10);
  return out;
}

describe('query decoder', () => {
  it('notes where a TSIG record starts when it is the last record (RFC 8945 §5.1)', () => {
    const plain = buildQuery({ name: 'a.org', type: 252 });
    const r = decode(withTsig(plain));
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.query.tsigOffset, plain.length);
    const unsigned = decode(plain);
    assert.ok(unsigned.ok && unsigned.query.tsigOffset === undefined);
  });

  it('rejects a TSIG record that is not the last one as malformed', () => {
    const r = decode(withTsig(buildQuery({ name: 'a.org', type: 252 }), true));
    assert.ok(!r.ok);
    if (r.ok) return;
    assert.equal(r.respond, true);
    assert.match(r.reason, /TSIG is not the last record/);
  });

  it('lower-cases the name for lookup and keeps the question bytes as asked', () => {
    const r = decode(buildQuery({ name: 'WwW.ExAmple.ORG', type: 28 }));
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.query.qname, 'www.example.org');
    assert.equal(r.query.qtype, 28);
    assert.equal(r.query.question.subarray(1, 4).toString(), 'WwW');
    assert.equal(r.query.edns, undefined);
  });

  it('gives every name the text of its labels: lower-cased, dots joining, \\DDD for dots, backslashes and unprintable octets', () => {
    /** The text as RFC 1035 §5.1 presentation form, lower-cased: what qname must be. */
    const text = (labels: number[][]) =>
      labels
        .map((l) =>
          l
            .map((c) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c))
            .map((c) =>
              c === 0x2e || c === 0x5c || c < 0x21 || c > 0x7e
                ? `\\${String(c).padStart(3, '0')}`
                : String.fromCharCode(c),
            )
            .join(''),
        )
        .join('.');
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const octet = () => (rand(4) === 0 ? rand(256) : 0x41 + rand(58));
    for (let t = 0; t < 2000; t++) {
      const labels = Array.from({ length: 1 + rand(5) }, () =>
        Array.from({ length: 1 + rand(t % 3 === 0 ? 63 : 12) }, octet),
      );
      const wire = Buffer.concat([
        ...labels.map((l) => Buffer.from([l.length, ...l])),
        Buffer.from([0, 0, 1, 0, 1]),
      ]);
      const header = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
      const r = decode(Buffer.concat([header, wire]));
      const length = labels.reduce((sum, l) => sum + l.length + 1, 0);
      if (length > 254) {
        assert.ok(!r.ok, `a ${length}-octet name is malformed`);
        continue;
      }
      assert.ok(r.ok, `labels ${JSON.stringify(labels)}`);
      if (r.ok) assert.equal(r.query.qname, text(labels));
    }
  });

  it('reads EDNS: payload size floor 512, version, DO, NSID request', () => {
    const r = decode(
      buildQuery({
        name: 'a.org',
        opt: { udp: 100, version: 1, do: true, options: [{ code: 3, data: Buffer.alloc(0) }] },
      }),
    );
    assert.ok(r.ok && r.query.edns);
    if (!r.ok || !r.query.edns) return;
    assert.deepEqual(
      {
        size: r.query.edns.udpSize,
        v: r.query.edns.version,
        do: r.query.edns.dnssecOk,
        nsid: r.query.edns.nsidRequested,
      },
      { size: 512, v: 1, do: true, nsid: true },
    );
  });

  it('reads a well-formed ECS option (RFC 7871)', () => {
    const r = decode(
      buildQuery({ name: 'a.org', opt: { options: [ecsOption(1, 20, 0, [192, 0, 32])] } }),
    );
    assert.ok(r.ok);
    if (!r.ok) return;
    const ecs = r.query.edns?.clientSubnet;
    assert.equal(ecs?.sourcePrefix, 20);
    assert.deepEqual([...(ecs?.address ?? [])], [192, 0, 32, 0]);
  });

  const formerr: Array<[string, Buffer]> = [
    [
      'QDCOUNT 0',
      (() => {
        const b = buildQuery({ name: 'a.org' }).subarray(0, 12);
        b.writeUInt16BE(0, 4);
        return b;
      })(),
    ],
    [
      'QDCOUNT 2',
      (() => {
        const b = buildQuery({ name: 'a.org' });
        b.writeUInt16BE(2, 4);
        return b;
      })(),
    ],
    ['a truncated question', buildQuery({ name: 'a.org' }).subarray(0, 16)],
    [
      'a compression pointer in the question',
      Buffer.concat([
        buildQuery({ name: 'a.org' }).subarray(0, 12),
        Buffer.from([0xc0, 0x0c, 0, 1, 0, 1]),
      ]),
    ],
    [
      'a label longer than 63',
      Buffer.concat([
        buildQuery({ name: 'a.org' }).subarray(0, 12),
        Buffer.from([64]),
        Buffer.alloc(64, 97),
        Buffer.from([0, 0, 1, 0, 1]),
      ]),
    ],
    [
      'ECS with a non-zero scope',
      buildQuery({ name: 'a.org', opt: { options: [ecsOption(1, 24, 8, [192, 0, 2])] } }),
    ],
    [
      'ECS with the wrong address length',
      buildQuery({ name: 'a.org', opt: { options: [ecsOption(1, 24, 0, [192, 0])] } }),
    ],
    [
      'ECS with bits beyond the prefix',
      buildQuery({ name: 'a.org', opt: { options: [ecsOption(1, 20, 0, [192, 0, 47])] } }),
    ],
    ['ECS family 3', buildQuery({ name: 'a.org', opt: { options: [ecsOption(3, 0, 0, [])] } })],
    [
      'an EDNS option overrunning the OPT',
      (() => {
        const b = buildQuery({
          name: 'a.org',
          opt: { options: [{ code: 9, data: Buffer.alloc(4) }] },
        });
        b.writeUInt16BE(40, b.length - 6);
        return b;
      })(),
    ],
    [
      'two OPT records',
      (() => {
        const one = buildQuery({ name: 'a.org', opt: {} });
        const opt = one.subarray(one.length - 11);
        const b = Buffer.concat([one, opt]);
        b.writeUInt16BE(2, 10);
        return b;
      })(),
    ],
  ];
  for (const [name, packet] of formerr) {
    it(`answers FORMERR for ${name}`, () => {
      const r = decode(packet);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.respond, true);
    });
  }

  it('drops packets shorter than a header and responses', () => {
    const short = decode(Buffer.from([1, 2, 3]));
    assert.ok(!short.ok && !short.respond);
    const resp = decode(buildQuery({ name: 'a.org', flags: 0x8000 }));
    assert.ok(!resp.ok && !resp.respond);
  });

  it('never throws on random input', () => {
    let seed = 42;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 5000; i++) {
      const len = rnd() % 80;
      const b = Buffer.from(Array.from({ length: len }, rnd));
      assert.doesNotThrow(() => decode(b));
    }
  });
});
