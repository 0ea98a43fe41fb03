import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeQuery, type Query } from '../../src/wire/decode.js';
import { encodeError, encodeResponse, type Response } from '../../src/wire/encode.js';
import { Rcode } from '../../src/wire/constants.js';
import { records } from '../helpers/records.js';
import {
  buildQuery,
  counts,
  ecsOption,
  flagsOf,
  parseReply,
  type QueryBits,
} from '../helpers/wire.js';

function query(bits: QueryBits, transport: 'udp' | 'tcp' = 'udp'): Query {
  const r = decodeQuery(buildQuery(bits), transport, '127.0.0.1', 1);
  if (!r.ok) throw new Error(r.reason);
  return r.query;
}

const limits = (maxSize: number, nsid?: string) => ({
  maxSize,
  ourUdpSize: 1232,
  nsid: nsid ? Buffer.from(nsid) : undefined,
});

function answer(text: string, extra: Partial<Response> = {}): Response {
  return {
    rcode: 0,
    authoritative: true,
    answer: records(text),
    authority: [],
    additional: [],
    ...extra,
  };
}

// 20 TXT records of 100 octets: about 2.3 kB, more than 512 and 1232.
const BIG = Array.from({ length: 20 }, (_, i) => `big TXT "${String(i).padStart(100, 'x')}"`).join(
  '\n',
);

describe('response encoder', () => {
  it('sets QR, AA, echoes the id, RD and the question exactly as asked', () => {
    const q = query({ id: 4321, name: 'WWW.Example.org' });
    const wire = encodeResponse(q, answer('www A 192.0.2.1'), limits(512));
    const f = flagsOf(wire);
    assert.equal(wire.readUInt16BE(0), 4321);
    assert.ok(f.qr && f.aa && f.rd && !f.ra && !f.tc);
    assert.equal(
      wire.subarray(12, 12 + q.question.length).toString('latin1'),
      q.question.toString('latin1'),
    );
    const p = parseReply(wire);
    assert.equal(p.answers[0].address, '192.0.2.1');
    // The owner name is a pointer to the question, so it carries the client's case.
    assert.equal(p.answers[0].name, 'WWW.Example.org');
  });

  it('adds no OPT when the query had none', () => {
    const wire = encodeResponse(
      query({ name: 'www.example.org' }),
      answer('www A 192.0.2.1'),
      limits(512),
    );
    assert.equal(counts(wire)[3], 0);
  });

  it('echoes OPT with our payload size and the DO bit (RFC 6891, RFC 3225)', () => {
    const wire = encodeResponse(
      query({ name: 'www.example.org', opt: { udp: 4096, do: true } }),
      answer('www A 192.0.2.1'),
      limits(1232),
    );
    const opt = wire.subarray(wire.length - 11);
    assert.equal(counts(wire)[3], 1);
    assert.equal(opt.readUInt16BE(1), 41);
    assert.equal(opt.readUInt16BE(3), 1232);
    assert.equal(opt.readUInt32BE(5) & 0x8000, 0x8000);
  });

  it('puts BADVERS in the extended RCODE of the OPT', () => {
    const q = query({ name: 'www.example.org', opt: { version: 1 } });
    const wire = encodeResponse(
      q,
      { rcode: Rcode.BADVERS, authoritative: false, answer: [], authority: [], additional: [] },
      limits(1232),
    );
    assert.equal(flagsOf(wire).rcode, 0);
    const ttl = wire.readUInt32BE(wire.length - 11 + 5);
    assert.equal(ttl >>> 24, 1);
    assert.equal((ttl >>> 16) & 0xff, 0, 'we answer with version 0');
  });

  it('returns NSID only when asked and configured (RFC 5001)', () => {
    const asked = query({
      name: 'www.example.org',
      opt: { options: [{ code: 3, data: Buffer.alloc(0) }] },
    });
    const wire = encodeResponse(asked, answer('www A 192.0.2.1'), limits(1232, 'edge-fra-1'));
    assert.ok(wire.includes(Buffer.from('edge-fra-1')));
    const notAsked = encodeResponse(
      query({ name: 'www.example.org', opt: {} }),
      answer('www A 192.0.2.1'),
      limits(1232, 'edge-fra-1'),
    );
    assert.ok(!notAsked.includes(Buffer.from('edge-fra-1')));
  });

  it('echoes ECS with the given scope and the source address truncated to its prefix', () => {
    const q = query({
      name: 'www.example.org',
      opt: { options: [ecsOption(1, 24, 0, [192, 0, 2])] },
    });
    const wire = encodeResponse(q, answer('www A 192.0.2.1', { ecsScope: 16 }), limits(1232));
    // option code 8, length 7, family 1, source 24, scope 16, address 192.0.2
    assert.deepEqual([...wire.subarray(wire.length - 11)], [0, 8, 0, 7, 0, 1, 24, 16, 192, 0, 2]);
  });

  it('sets TC and sends no records when the answer exceeds 512 octets without EDNS', () => {
    const wire = encodeResponse(
      query({ name: 'big.example.org', type: 16 }),
      answer(BIG),
      limits(512),
    );
    assert.ok(flagsOf(wire).tc);
    assert.deepEqual(counts(wire), [1, 0, 0, 0]);
    assert.ok(wire.length <= 512);
  });

  it('keeps the OPT record in a truncated EDNS reply', () => {
    const wire = encodeResponse(
      query({ name: 'big.example.org', type: 16, opt: { udp: 1232 } }),
      answer(BIG),
      limits(1232),
    );
    assert.ok(flagsOf(wire).tc);
    assert.deepEqual(counts(wire), [1, 0, 0, 1]);
  });

  it('fits the whole answer when the requester allows it, and over TCP', () => {
    const udp = encodeResponse(
      query({ name: 'big.example.org', type: 16, opt: { udp: 4096 } }),
      answer(BIG),
      limits(4096),
    );
    assert.ok(!flagsOf(udp).tc);
    assert.equal(counts(udp)[1], 20);
    const tcp = encodeResponse(
      query({ name: 'big.example.org', type: 16 }, 'tcp'),
      answer(BIG),
      limits(65535),
    );
    assert.equal(counts(tcp)[1], 20);
  });

  it('drops additional records that do not fit without setting TC', () => {
    const add = records(Array.from({ length: 30 }, (_, i) => `ns${i} A 192.0.2.${i}`).join('\n'));
    const wire = encodeResponse(
      query({ name: 'www.example.org' }),
      answer('www A 192.0.2.1', { additional: add }),
      limits(512),
    );
    const f = flagsOf(wire);
    assert.ok(!f.tc);
    assert.equal(counts(wire)[1], 1);
    assert.ok(counts(wire)[3] < 30 && counts(wire)[3] > 0);
    assert.ok(wire.length <= 512);
  });

  it('builds a bare error reply for an undecodable query', () => {
    const wire = encodeError(77, 0, 0x0100, Rcode.FORMERR, undefined);
    assert.equal(wire.readUInt16BE(0), 77);
    assert.deepEqual(flagsOf(wire), {
      qr: true,
      aa: false,
      tc: false,
      rd: true,
      ra: false,
      rcode: 1,
    });
    assert.deepEqual(counts(wire), [0, 0, 0, 0]);
  });
});
