import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddressBytes } from '../../src/lib/client-address.js';

const read = (text: string): string | undefined => {
  const out = Buffer.alloc(16, 0xee);
  const n = clientAddressBytes(text, out);
  return n === 0 ? undefined : out.subarray(0, n).toString('hex');
};

describe('client address octets', () => {
  const cases: [string, string | undefined][] = [
    ['198.51.100.100', 'c6336464'],
    ['0.0.0.0', '00000000'],
    ['255.255.255.255', 'ffffffff'],
    ['203.0.113.203', 'cb0071cb'],
    ['2001:db8:220:1:59de:d0f4:8769:82b8', '20010db80220000159ded0f4876982b8'],
    ['2001:db8:8f::53', '20010db8008f00000000000000000053'],
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ['2001:DB8::', '20010db8000000000000000000000000'],
    ['::ffff:198.51.100.100', 'c6336464'],
    ['::ffff:c633:6464', 'c6336464'],
    ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['256.1.1.1', undefined],
    ['1.2.3', undefined],
    ['1.2.3.4.5', undefined],
    ['1..2.3', undefined],
    ['', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1::2::3', undefined],
    [':1::', undefined],
    ['1:', undefined],
    ['12345::', undefined],
    ['g::', undefined],
    ['1:2:3:4:5:6:7:1.2.3.4', undefined],
    ['localhost', undefined],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)} → ${want ?? 'not an address'}`, () => {
      assert.equal(read(text), want);
    });
  }
});
