import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  LogGate,
  ResponseRateLimiter,
  RrlClass,
  rrlClassOf,
  rrlNameHash,
  validateRrlConfig,
  RRL_DEFAULTS,
  type RrlVerdict,
} from '../../src/lib/rrl.js';

const WWW = rrlNameHash('www.example.org');
const SEED = 12345;

/** `n` responses for one key at `nowMs`, tallied by verdict. */
function burst(
  rrl: ResponseRateLimiter,
  address: string,
  n: number,
  nowMs: number,
  cls: RrlClass = RrlClass.answer,
  name = WWW,
) {
  const tally: Record<RrlVerdict, number> = { pass: 0, slip: 0, drop: 0 };
  for (let i = 0; i < n; i++) tally[rrl.checkAddress(address, cls, name, nowMs)]++;
  return tally;
}

describe('response rate limiting: bucket maths', () => {
  it('passes a burst of `rate` responses at once, then limits', () => {
    const rrl = new ResponseRateLimiter({ rate: 10, slip: 0 }, SEED);
    assert.deepEqual(burst(rrl, '192.0.2.1', 25, 1000), { pass: 10, slip: 0, drop: 15 });
  });

  it('refills at `rate` a second, in proportion to the time elapsed', () => {
    const rrl = new ResponseRateLimiter({ rate: 10, slip: 0 }, SEED);
    burst(rrl, '192.0.2.1', 10, 0);
    assert.equal(burst(rrl, '192.0.2.1', 5, 0).pass, 0, 'empty');
    assert.equal(burst(rrl, '192.0.2.1', 5, 100).pass, 1, '100 ms buys one response');
    assert.equal(burst(rrl, '192.0.2.1', 5, 350).pass, 2, '250 ms more buys two (and a half)');
    assert.equal(burst(rrl, '192.0.2.1', 5, 400).pass, 1, 'the half left over counts');
  });

  it('never holds more than one second of tokens, however long the quiet', () => {
    const rrl = new ResponseRateLimiter({ rate: 10, slip: 0 }, SEED);
    burst(rrl, '192.0.2.1', 10, 0);
    assert.equal(burst(rrl, '192.0.2.1', 100, 3_600_000).pass, 10);
  });

  it('keeps a steady client at `rate` a second over a long run', () => {
    const rrl = new ResponseRateLimiter({ rate: 50, slip: 0 }, SEED);
    let passed = 0;
    // 500 queries a second for 20 s, one every 2 ms.
    for (let t = 0; t < 20_000; t += 2)
      if (rrl.checkAddress('192.0.2.1', RrlClass.answer, WWW, t) === 'pass') passed++;
    assert.ok(passed >= 50 * 20 && passed <= 50 * 21, `passed ${passed}`);
  });

  it('refills nothing when the clock goes backwards', () => {
    const rrl = new ResponseRateLimiter({ rate: 5, slip: 0 }, SEED);
    burst(rrl, '192.0.2.1', 5, 10_000);
    assert.equal(burst(rrl, '192.0.2.1', 5, 0).pass, 0);
  });

  it('passes everything with rate 0 (off)', () => {
    const rrl = new ResponseRateLimiter({ rate: 0 }, SEED);
    assert.equal(rrl.enabled, false);
    assert.deepEqual(burst(rrl, '192.0.2.1', 10_000, 0), { pass: 10_000, slip: 0, drop: 0 });
  });
});

describe('response rate limiting: slip', () => {
  for (const slip of [1, 2, 3, 10]) {
    it(`slip ${slip}: every ${slip === 1 ? '' : `${slip}th `}limited response goes out truncated`, () => {
      const rrl = new ResponseRateLimiter({ rate: 5, slip }, SEED);
      burst(rrl, '192.0.2.1', 5, 0);
      const verdicts = Array.from({ length: 30 }, () =>
        rrl.checkAddress('192.0.2.1', RrlClass.answer, WWW, 0),
      );
      verdicts.forEach((v, i) =>
        assert.equal(v, (i + 1) % slip === 0 ? 'slip' : 'drop', `#${i + 1}`),
      );
    });
  }
  it('slip 0 drops every limited response', () => {
    const rrl = new ResponseRateLimiter({ rate: 5, slip: 0 }, SEED);
    assert.deepEqual(burst(rrl, '192.0.2.1', 105, 0), { pass: 5, slip: 0, drop: 100 });
  });

  it('counts slipped and dropped responses per class', () => {
    const rrl = new ResponseRateLimiter({ rate: 2, slip: 2 }, SEED);
    burst(rrl, '192.0.2.1', 12, 0, RrlClass.nxDomain, rrlNameHash('example.org'));
    burst(rrl, '192.0.2.1', 4, 0, RrlClass.error, 0);
    assert.equal(rrl.counters.passed, 4);
    assert.deepEqual(rrl.counters.slipped, [0, 0, 5, 1]);
    assert.deepEqual(rrl.counters.dropped, [0, 0, 5, 1]);
  });
});

describe('response rate limiting: keys', () => {
  it('limits each class and each name separately', () => {
    const rrl = new ResponseRateLimiter({ rate: 3, slip: 0 }, SEED);
    const zone = rrlNameHash('example.org');
    assert.equal(burst(rrl, '192.0.2.1', 10, 0, RrlClass.answer, WWW).pass, 3);
    assert.equal(burst(rrl, '192.0.2.1', 10, 0, RrlClass.noData, WWW).pass, 3);
    assert.equal(burst(rrl, '192.0.2.1', 10, 0, RrlClass.nxDomain, zone).pass, 3);
    assert.equal(burst(rrl, '192.0.2.1', 10, 0, RrlClass.error, 0).pass, 3);
    assert.equal(
      burst(rrl, '192.0.2.1', 10, 0, RrlClass.answer, rrlNameHash('api.example.org')).pass,
      3,
    );
  });

  it('shares one bucket across a /24 and across a /56, and not beyond', () => {
    const rrl = new ResponseRateLimiter({ rate: 10, slip: 0 }, SEED);
    assert.equal(burst(rrl, '192.0.2.1', 6, 0).pass, 6);
    assert.equal(burst(rrl, '192.0.2.254', 6, 0).pass, 4, 'same /24');
    assert.equal(burst(rrl, '::ffff:192.0.2.7', 6, 0).pass, 0, 'IPv4-mapped: same /24');
    assert.equal(burst(rrl, '192.0.3.1', 6, 0).pass, 6, 'next /24');
    assert.equal(burst(rrl, '2001:db8:0:100::1', 6, 0).pass, 6);
    assert.equal(burst(rrl, '2001:db8:0:1ff:ffff::1', 6, 0).pass, 4, 'same /56');
    assert.equal(burst(rrl, '2001:db8:0:200::1', 6, 0).pass, 6, 'next /56');
  });

  it('takes other prefix lengths', () => {
    const rrl = new ResponseRateLimiter(
      { rate: 4, slip: 0, ipv4Prefix: 32, ipv6Prefix: 128 },
      SEED,
    );
    assert.equal(burst(rrl, '192.0.2.1', 6, 0).pass, 4);
    assert.equal(burst(rrl, '192.0.2.2', 6, 0).pass, 4);
    assert.equal(burst(rrl, '2001:db8::1', 6, 0).pass, 4);
    assert.equal(burst(rrl, '2001:db8::2', 6, 0).pass, 4);
  });

  it('does not limit another /24 while one /24 floods', () => {
    const rrl = new ResponseRateLimiter({ rate: 20, slip: 2, slots: 1024 }, SEED);
    let victimPassed = 0;
    // One query a second from 198.51.100.0/24 for 60 s, while 203.0.113.0/24 sends 10,000 a
    // second for the same name, and spoofed sources from 10.0.0.0/8 churn the table.
    for (let s = 0; s < 60; s++) {
      const t = s * 1000;
      burst(rrl, `203.0.113.${s % 250}`, 10_000, t);
      for (let i = 0; i < 3000; i++)
        rrl.checkAddress(`10.${i % 256}.${(i >> 8) + s}.1`, RrlClass.answer, WWW, t);
      if (rrl.checkAddress('198.51.100.10', RrlClass.answer, WWW, t + 500) === 'pass')
        victimPassed++;
    }
    assert.equal(victimPassed, 60);
  });

  it('keeps limiting a flooding prefix while spoofed sources churn the table', () => {
    const rrl = new ResponseRateLimiter({ rate: 10, slip: 0, slots: 1024 }, SEED);
    let passed = 0;
    for (let s = 0; s < 10; s++)
      for (let i = 0; i < 2000; i++) {
        const t = s * 1000 + i / 2;
        if (rrl.checkAddress('203.0.113.9', RrlClass.answer, WWW, t) === 'pass') passed++;
        rrl.checkAddress(`10.${i % 256}.${i >> 8}.${s}`, RrlClass.answer, WWW, t);
      }
    assert.ok(passed <= 10 * 11, `the flooder got ${passed} responses in 10 s at rate 10`);
  });
});

describe('response rate limiting: memory', () => {
  it('keeps the same table after a million prefixes', () => {
    const rrl = new ResponseRateLimiter({ rate: 5, slots: 4096 }, SEED);
    const capacity = rrl.capacity;
    const bytes = rrl.tableBytes;
    assert.ok(bytes < 4096 * 32, `${bytes} bytes`);
    const address = Buffer.alloc(4);
    for (let i = 0; i < 1_000_000; i++) {
      address.writeUInt32BE((i << 8) >>> 0);
      rrl.check(address, RrlClass.answer, WWW, i);
    }
    assert.equal(rrl.capacity, capacity);
    assert.equal(rrl.tableBytes, bytes);
    assert.equal(rrl.counters.passed, 1_000_000, 'each new prefix starts with a full bucket');
  });

  it('rounds the slot count up to a power of two', () => {
    assert.equal(new ResponseRateLimiter({ slots: 1000 }, SEED).capacity, 1024 + 4);
  });

  it('refuses configurations outside their ranges', () => {
    for (const bad of [
      { rate: -1 },
      { rate: 1.5 },
      { slip: 101 },
      { ipv4Prefix: 33 },
      { ipv6Prefix: 129 },
      { slots: 2 },
    ])
      assert.throws(
        () => validateRrlConfig({ ...RRL_DEFAULTS, ...bad }),
        RangeError,
        JSON.stringify(bad),
      );
    assert.doesNotThrow(() => validateRrlConfig(RRL_DEFAULTS));
  });

  it('lets an unreadable address through', () => {
    const rrl = new ResponseRateLimiter({ rate: 1, slip: 0 }, SEED);
    assert.deepEqual(burst(rrl, 'not-an-address', 5, 0), { pass: 5, slip: 0, drop: 0 });
  });
});

describe('log gate', () => {
  it('allows `perSecond` lines a second and reports how many it held back', () => {
    const gate = new LogGate(2);
    assert.deepEqual(gate.allow(0), { suppressed: 0 });
    assert.deepEqual(gate.allow(10), { suppressed: 0 });
    assert.equal(gate.allow(20), undefined);
    assert.equal(gate.allow(999), undefined);
    assert.deepEqual(gate.allow(1000), { suppressed: 2 });
    assert.deepEqual(gate.allow(1001), { suppressed: 0 });
  });
});

describe('response classes', () => {
  it('classes a response by RCODE and answer count', () => {
    assert.equal(rrlClassOf(0, 2), RrlClass.answer);
    assert.equal(rrlClassOf(0, 0), RrlClass.noData);
    assert.equal(rrlClassOf(3, 0), RrlClass.nxDomain);
    for (const rcode of [1, 2, 4, 5, 9, 23]) assert.equal(rrlClassOf(rcode, 0), RrlClass.error);
  });
});
