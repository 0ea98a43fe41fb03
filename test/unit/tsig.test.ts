import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  TsigKeyring,
  TsigStream,
  findTsig,
  parseAlgorithm,
  parseTsigRecord,
  signWithMac,
  tsigErrorReply,
  verifyReply,
  verifyRequest,
  type TsigKey,
} from '../../src/wire/tsig.js';
import { decodeQuery } from '../../src/wire/decode.js';
import { buildQuery } from '../helpers/wire.js';

const key: TsigKey = { name: 'xfr-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 7) };
const ring = new TsigKeyring([key]);
const NOW = 1_800_000_000;

function signed(k: TsigKey = key, time = NOW): { msg: Buffer; mac: Buffer } {
  const r = signWithMac(buildQuery({ name: 'cdn.example.net', type: 252 }), {
    key: k,
    requestMac: undefined,
    nowSec: time,
  });
  return { msg: r.message, mac: r.mac };
}

describe('TSIG (RFC 8945)', () => {
  it('reads algorithm names as operators write them', () => {
    assert.equal(parseAlgorithm('sha256'), 'hmac-sha256');
    assert.equal(parseAlgorithm('HMAC-SHA512.'), 'hmac-sha512');
    assert.equal(parseAlgorithm('hmac-sha1'), 'hmac-sha1');
    assert.equal(parseAlgorithm('hmac-md5'), undefined);
  });

  it('verifies a request it signed, and the decoder finds its TSIG', () => {
    const { msg, mac } = signed();
    const q = decodeQuery(msg, 'tcp', '127.0.0.1', 1);
    assert.ok(q.ok && q.query.tsigOffset !== undefined);
    if (!q.ok || q.query.tsigOffset === undefined) return;
    assert.equal(findTsig(msg), q.query.tsigOffset);
    const v = verifyRequest(msg, q.query.tsigOffset, ring, NOW + 10);
    assert.ok(v.ok);
    if (v.ok) assert.deepEqual(v.mac, mac);
    assert.equal(parseTsigRecord(msg, q.query.tsigOffset).algorithm, 'hmac-sha256');
  });

  const table: Array<[string, () => Buffer, number, string]> = [
    ['an unknown key', () => signed({ ...key, name: 'other' }).msg, NOW, 'BADKEY'],
    [
      'the right name with another algorithm',
      () => signed({ ...key, algorithm: 'hmac-sha512' }).msg,
      NOW,
      'BADKEY',
    ],
    ['a wrong secret', () => signed({ ...key, secret: Buffer.alloc(32, 8) }).msg, NOW, 'BADSIG'],
    ['a time outside the fudge', () => signed().msg, NOW + 301, 'BADTIME'],
    [
      'a changed message',
      () => {
        const m = signed().msg;
        m[13] = 0x41; // first letter of the question
        return m;
      },
      NOW,
      'BADSIG',
    ],
  ];
  for (const [what, make, now, error] of table) {
    it(`answers ${error} for ${what}`, () => {
      const msg = make();
      const offset = findTsig(msg);
      assert.ok(offset !== undefined);
      const v = verifyRequest(msg, offset as number, ring, now);
      assert.equal(v.ok, false);
      if (v.ok) return;
      assert.equal(v.error, error);
      const q = decodeQuery(msg, 'tcp', '127.0.0.1', 1);
      assert.ok(q.ok);
      if (!q.ok) return;
      const reply = tsigErrorReply(msg, q.query, v, undefined, now);
      assert.equal(reply[3]! & 0x0f, 9, 'NOTAUTH');
      const rec = parseTsigRecord(reply, findTsig(reply) as number);
      assert.equal(rec.error, { BADKEY: 17, BADSIG: 16, BADTIME: 18 }[error]);
      if (error === 'BADTIME') {
        // Signed, with the server's time in Other Data (RFC 8945 §5.2.3).
        assert.equal(rec.mac.length, 32);
        assert.equal(rec.other.readUIntBE(0, 6), now);
      } else assert.equal(rec.mac.length, 0);
    });
  }

  it('signs a reply the requester verifies, and rejects a tampered one', () => {
    const { msg, mac } = signed();
    const reply = Buffer.from(msg.subarray(0, findTsig(msg)));
    reply.writeUInt16BE(reply.readUInt16BE(10) - 1, 10);
    reply[2] = 0x80;
    const out = signWithMac(reply, { key, requestMac: mac, nowSec: NOW }).message;
    assert.deepEqual(verifyReply(out, key, mac, NOW), { ok: true });
    assert.equal(verifyReply(out, key, Buffer.alloc(32), NOW).ok, false);
    assert.equal(verifyReply(reply, key, mac, NOW).ok, false);
  });

  it('chains the MACs of a multi-message reply (RFC 8945 §5.3.1)', () => {
    const { mac } = signed();
    const stream = new TsigStream(key, mac, () => NOW);
    const m1 = stream.sign(Buffer.from(buildQuery({ name: 'a.example', type: 1 })));
    const m2 = stream.sign(Buffer.from(buildQuery({ name: 'b.example', type: 1 })));
    const r1 = parseTsigRecord(m1, findTsig(m1) as number);
    const r2 = parseTsigRecord(m2, findTsig(m2) as number);
    assert.equal(r1.mac.length, 32);
    assert.notDeepEqual(r1.mac, r2.mac);
    // The first message is a plain reply to the request.
    assert.deepEqual(verifyReply(m1, key, mac, NOW), { ok: true });
  });
});
