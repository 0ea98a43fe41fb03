import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkCookie,
  cookieOptionSpan,
  cookieAction,
  cookieLengthAllowed,
  findCookieOption,
  newCookieSecret,
  responseCookie,
  rotateCookieSecrets,
  serverCookie,
  writeResponseCookie,
  type CookieSecrets,
  type CookieVerdict,
} from '../../src/wire/cookie.js';
import { clientAddressBytes } from '../../src/lib/client-address.js';

const hex = (h: string) => Buffer.from(h, 'hex');
const addr = (text: string) => {
  const out = Buffer.alloc(16);
  return out.subarray(0, clientAddressBytes(text, out));
};
/** The data of a response's COOKIE option, as dig prints it after "; COOKIE: ". */
const responseData = (...args: Parameters<typeof responseCookie>) => {
  const option = responseCookie(...args);
  assert.ok(option, 'the response carries a cookie');
  assert.equal(option.readUInt16BE(0), 10, 'option code COOKIE');
  assert.equal(option.readUInt16BE(2), option.length - 4, 'option length');
  return option.subarray(4).toString('hex');
};

// RFC 9018 Appendix A: secrets, addresses, times and cookies exactly as the RFC prints them.
const SECRET_A = hex('e5e973e5a6b2a43f48e7dc849e37bfcf');
const SECRET_A4_OLD = hex('dd3bdf9344b678b185a6f5cb60fca715');
const SECRET_A4_NEW = hex('445536bcd2513298075a5d379663c962');

describe('RFC 9018 Appendix A test vectors', () => {
  const secrets: CookieSecrets = { current: SECRET_A };

  it('A.1: learning a new server cookie', () => {
    const from = addr('198.51.100.100');
    const check = checkCookie(hex('2464c4abcf10c957'), from, secrets, 1559731985);
    assert.equal(check.verdict, 'clientOnly');
    assert.equal(
      responseData(check, from, secrets, 1559731985),
      '2464c4abcf10c957010000005cf79f111f8130c3eee29480',
    );
    assert.equal(
      serverCookie(hex('2464c4abcf10c957'), from, SECRET_A, 1559731985).toString('hex'),
      '010000005cf79f111f8130c3eee29480',
    );
  });

  it('A.2: the same client learning a renewed cookie 40 minutes later', () => {
    const from = addr('198.51.100.100');
    const request = hex('2464c4abcf10c957010000005cf79f111f8130c3eee29480');
    const check = checkCookie(request, from, secrets, 1559734385);
    assert.equal(check.verdict, 'valid');
    assert.equal(check.refresh, true, 'older than half an hour');
    assert.equal(
      responseData(check, from, secrets, 1559734385),
      '2464c4abcf10c957010000005cf7a871d4a564a1442aca77',
    );
  });

  it('A.3: another resolver, its cookie with reserved octets set, gets a conforming one', () => {
    const from = addr('203.0.113.203');
    const request = hex('fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5');
    // Its timestamp is 1559727985 (09:46:25); the hash covers the reserved octets as sent.
    const inWindow = checkCookie(request, from, secrets, 1559727985 + 600);
    assert.equal(inWindow.verdict, 'valid');
    assert.equal(inWindow.refresh, true, 'reserved octets set: answered with a conforming cookie');
    // The RFC's reply comes at 11:38:20, 1h52m after the cookie was made: past the hour
    // of §4.3, so here it is an invalid server cookie, answered with a new one all the same.
    const late = checkCookie(request, from, secrets, 1559734700);
    assert.equal(late.verdict, 'invalidServer');
    for (const check of [inWindow, late])
      assert.equal(
        responseData(check, from, secrets, 1559734700),
        'fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e',
      );
  });

  it('A.4: an IPv6 client whose cookie was made with the secret rolled over since', () => {
    const from = addr('2001:db8:220:1:59de:d0f4:8769:82b8');
    const request = hex('22681ab97d52c298010000005cf7c57926556bd0934c72f8');
    const rolled: CookieSecrets = { current: SECRET_A4_NEW, previous: SECRET_A4_OLD };
    const check = checkCookie(request, from, rolled, 1559741961);
    assert.equal(check.verdict, 'valid', 'the previous secret still validates it');
    assert.equal(check.refresh, true, 'made with the previous secret: renewed with the current');
    assert.equal(
      responseData(check, from, rolled, 1559741961),
      '22681ab97d52c298010000005cf7c609a6bb79d16625507a',
    );
    assert.equal(
      checkCookie(request, from, { current: SECRET_A4_NEW }, 1559741961).verdict,
      'invalidServer',
      'once the old secret is dropped the cookie is invalid',
    );
    assert.equal(
      checkCookie(request, from, { current: SECRET_A4_OLD }, 1559741817).refresh,
      false,
      'with its own secret and fresh, it is echoed',
    );
  });
});

describe('server cookie checks', () => {
  const secrets: CookieSecrets = { current: SECRET_A };
  const from = addr('198.51.100.100');
  const client = hex('2464c4abcf10c957');
  const made = 1559731985;
  const option = Buffer.concat([client, serverCookie(client, from, SECRET_A, made)]);
  const verdictAt = (now: number, o: Buffer = option, a: Uint8Array = from) =>
    checkCookie(o, a, secrets, now).verdict;

  it('accepts from five minutes before the timestamp to an hour after it (RFC 9018 §4.3)', () => {
    assert.equal(verdictAt(made - 301), 'invalidServer');
    assert.equal(verdictAt(made - 300), 'valid');
    assert.equal(verdictAt(made), 'valid');
    assert.equal(verdictAt(made + 3600), 'valid');
    assert.equal(verdictAt(made + 3601), 'invalidServer');
  });

  it('echoes a cookie younger than half an hour and renews an older one', () => {
    for (const [age, refresh] of [
      [0, false],
      [1800, false],
      [1801, true],
      [-60, false],
    ] as const) {
      const check = checkCookie(option, from, secrets, made + age);
      assert.equal(check.refresh, refresh, `age ${age}`);
      const data = responseData(check, from, secrets, made + age);
      assert.equal(data === option.toString('hex'), !refresh, `age ${age} echoed`);
    }
  });

  it('compares timestamps by serial number arithmetic across the 32-bit wrap', () => {
    const late = 0xfffffff0;
    const wrapped = Buffer.concat([client, serverCookie(client, from, SECRET_A, late)]);
    assert.equal(verdictAt(0x100000010, wrapped), 'valid', '32 s later, past the wrap');
    assert.equal(verdictAt(0x10, wrapped), 'valid', 'the same instant mod 2^32');
    assert.equal(verdictAt(late + 3601, wrapped), 'invalidServer');
  });

  it('binds the cookie to the client address, the client cookie and the secret', () => {
    assert.equal(verdictAt(made, option, addr('198.51.100.101')), 'invalidServer');
    const otherClient = Buffer.from(option);
    otherClient[0] = (otherClient[0] as number) ^ 1;
    assert.equal(verdictAt(made, otherClient), 'invalidServer');
    for (let i = 8; i < 24; i++) {
      const tampered = Buffer.from(option);
      tampered[i] = (tampered[i] as number) ^ 0x10;
      assert.equal(verdictAt(made, tampered), 'invalidServer', `octet ${i} changed`);
    }
    assert.equal(
      checkCookie(option, from, { current: SECRET_A4_NEW }, made).verdict,
      'invalidServer',
    );
  });

  it('takes server cookies of other lengths as well formed but not its own', () => {
    for (const n of [8, 15, 17, 32])
      assert.equal(verdictAt(made, Buffer.concat([client, Buffer.alloc(n, 1)])), 'invalidServer');
  });

  it('gives an IPv4-mapped client the cookie of its IPv4 address', () => {
    assert.equal(verdictAt(made, option, addr('::ffff:198.51.100.100')), 'valid');
  });
});

describe('COOKIE option lengths (RFC 7873 §4, §5.2.2)', () => {
  it('allows 8 and 16 to 40 octets and calls every other length malformed', () => {
    for (let n = 0; n <= 64; n++) {
      const allowed = n === 8 || (n >= 16 && n <= 40);
      assert.equal(cookieLengthAllowed(n), allowed, `length ${n}`);
      const verdict = checkCookie(
        Buffer.alloc(n, 7),
        addr('192.0.2.1'),
        { current: SECRET_A },
        0,
      ).verdict;
      assert.equal(verdict === 'malformed', !allowed, `length ${n}: ${verdict}`);
    }
  });

  it('writes no response cookie for none or malformed', () => {
    const out = Buffer.alloc(40);
    const s = { current: SECRET_A };
    for (const option of [undefined, Buffer.alloc(9)]) {
      const check = checkCookie(option, addr('192.0.2.1'), s, 0);
      assert.equal(writeResponseCookie(check, addr('192.0.2.1'), s, 0, out, 5), 5);
      assert.equal(responseCookie(check, addr('192.0.2.1'), s, 0), undefined);
    }
  });
});

describe('finding the COOKIE option in OPT RDATA', () => {
  const option = (code: number, data: string) => {
    const d = hex(data);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(code, 0);
    head.writeUInt16BE(d.length, 2);
    return Buffer.concat([head, d]);
  };
  it('finds it among other options', () => {
    const rdata = Buffer.concat([option(3, ''), option(10, '2464c4abcf10c957'), option(8, '0001')]);
    assert.equal(
      Buffer.from(findCookieOption(rdata) as Uint8Array).toString('hex'),
      '2464c4abcf10c957',
    );
  });
  it('returns undefined without one, malformed for two or an overrun', () => {
    assert.equal(findCookieOption(Buffer.alloc(0)), undefined);
    assert.equal(findCookieOption(option(3, '')), undefined);
    const twice = Buffer.concat([option(10, '0102030405060708'), option(10, '0102030405060708')]);
    assert.equal(findCookieOption(twice), 'malformed');
    assert.equal(findCookieOption(option(10, '0102030405060708').subarray(0, 10)), 'malformed');
    assert.equal(findCookieOption(hex('000a00')), 'malformed');
  });
});

describe('the span of the COOKIE option in a query', () => {
  // example.com. IN A, with an OPT record carrying NSID (empty) and a COOKIE.
  const query = (options: string) => {
    const opts = hex(options);
    const head = hex('e03e00000001000000000001076578616d706c6503636f6d0000010001');
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(4096, 3);
    opt.writeUInt16BE(opts.length, 9);
    return { msg: Buffer.concat([head, opt, opts]), optAt: head.length };
  };
  it('covers the whole option, header included', () => {
    const { msg, optAt } = query('00030000' + '000a0008' + '2464c4abcf10c957');
    const span = cookieOptionSpan(msg, optAt);
    assert.deepEqual(span, { start: optAt + 15, end: optAt + 27 });
    assert.equal(msg.subarray(span.start, span.end).toString('hex'), '000a00082464c4abcf10c957');
  });
  it('is undefined without a cookie, without an OPT there, or with malformed options', () => {
    assert.equal(cookieOptionSpan(query('00030000').msg, query('00030000').optAt), undefined);
    const { msg, optAt } = query('000a0008' + '2464c4abcf10c957');
    assert.equal(cookieOptionSpan(msg, optAt - 1), undefined);
    assert.equal(cookieOptionSpan(msg.subarray(0, msg.length - 1), optAt), undefined);
    const twice = query('000a00080102030405060708000a00080102030405060708');
    assert.equal(cookieOptionSpan(twice.msg, twice.optAt), undefined);
  });
});

describe('what a verdict makes the server do (RFC 7873 §5.2, §5.4)', () => {
  type Row = [CookieVerdict, { tcp: boolean; noQuestion: boolean; demandCookie: boolean }, string];
  const ctx = (tcp: boolean, noQuestion: boolean, demandCookie: boolean) => ({
    tcp,
    noQuestion,
    demandCookie,
  });
  const rows: Row[] = [];
  for (const tcp of [false, true])
    for (const noQuestion of [false, true])
      for (const demand of [false, true]) {
        const c = ctx(tcp, noQuestion, demand);
        rows.push(['none', c, 'answer']);
        rows.push(['malformed', c, 'formerr']);
        rows.push(['valid', c, 'answer']);
        rows.push(['clientOnly', c, !tcp && !noQuestion && demand ? 'badcookie' : 'answer']);
        rows.push(['invalidServer', c, noQuestion || (!tcp && demand) ? 'badcookie' : 'answer']);
      }
  for (const [verdict, c, want] of rows)
    it(`${verdict} over ${c.tcp ? 'TCP' : 'UDP'}${c.noQuestion ? ', no question' : ''}${
      c.demandCookie ? ', cookies demanded' : ''
    } → ${want}`, () => {
      assert.equal(cookieAction(verdict, c), want);
    });
});

describe('secret rotation', () => {
  it('keeps cookies made before one rotation valid and drops them after the next', () => {
    const from = addr('192.0.2.1');
    const client = hex('0102030405060708');
    const first: CookieSecrets = { current: newCookieSecret() };
    const option = Buffer.concat([client, serverCookie(client, from, first.current, 1000)]);
    const second = rotateCookieSecrets(first);
    assert.notDeepEqual(Buffer.from(second.current), Buffer.from(first.current));
    const check = checkCookie(option, from, second, 1100);
    assert.equal(check.verdict, 'valid');
    assert.equal(check.refresh, true, 'renewed with the new current secret');
    assert.equal(
      checkCookie(option, from, rotateCookieSecrets(second), 1100).verdict,
      'invalidServer',
    );
    assert.throws(() => rotateCookieSecrets(first, Buffer.alloc(8)), RangeError);
  });
});
