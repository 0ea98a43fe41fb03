// RFC 2136 message reading: names inside rdata that a client compressed against the zone
// name (RFC 1035 §4.1.4) come out written in full, so they compare with the zone's rdata.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MalformedUpdate, parseUpdate } from '../../src/wire/update.js';
import { encodeName } from '../../src/wire/name.js';
import { RRClass, RRType } from '../../src/wire/constants.js';

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

/** UPDATE for cdn.example.net with one update RR: `www` (pointer-relative) type rdata. */
function message(type: number, rdata: Buffer): Buffer {
  const header = Buffer.concat([u16(0x1234), u16(5 << 11), u16(1), u16(0), u16(1), u16(0)]);
  const zone = Buffer.concat([encodeName('cdn.example.net'), u16(RRType.SOA), u16(RRClass.IN)]);
  // Owner: label "www" then a pointer to the zone name at offset 12.
  const owner = Buffer.concat([Buffer.from([3]), Buffer.from('www'), Buffer.from([0xc0, 12])]);
  return Buffer.concat([
    header,
    zone,
    owner,
    u16(type),
    u16(RRClass.IN),
    u32(300),
    u16(rdata.length),
    rdata,
  ]);
}
const pointerToZone = Buffer.from([0xc0, 12]);
const labelThenPointer = Buffer.concat([Buffer.from([3]), Buffer.from('App'), pointerToZone]);

describe('parseUpdate', () => {
  it('expands a compressed CNAME target, lower-cased', () => {
    const [u] = parseUpdate(message(RRType.CNAME, labelThenPointer)).updates;
    assert.equal(u?.name, 'www.cdn.example.net');
    assert.deepEqual(u?.rdata, encodeName('app.cdn.example.net'));
  });
  it('expands the exchange of an MX after its preference', () => {
    const [u] = parseUpdate(message(RRType.MX, Buffer.concat([u16(10), pointerToZone]))).updates;
    assert.deepEqual(u?.rdata, Buffer.concat([u16(10), encodeName('cdn.example.net')]));
  });
  it('leaves other rdata as sent', () => {
    const [u] = parseUpdate(message(RRType.A, Buffer.from([192, 0, 2, 1]))).updates;
    assert.deepEqual(u?.rdata, Buffer.from([192, 0, 2, 1]));
  });
  it('refuses a name that runs past its rdata', () =>
    assert.throws(
      () => parseUpdate(message(RRType.MX, Buffer.concat([u16(10), Buffer.from([3, 0x61])]))),
      MalformedUpdate,
    ));
});
