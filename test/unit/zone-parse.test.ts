import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lines, records } from '../helpers/records.js';
import { parseTtl } from '../../src/zone/parse.js';

describe('zone text parser', () => {
  const cases: Array<[string, string, string[]]> = [
    [
      'absolute owner',
      'www.example.org. 30 IN A 198.51.100.1',
      ['www.example.org. 30 IN A 198.51.100.1'],
    ],
    [
      'relative owner, default TTL',
      'www A 198.51.100.1',
      ['www.example.org. 3600 IN A 198.51.100.1'],
    ],
    ['@ and class before TTL', '@ IN 60 TXT "a b" c', ['example.org. 60 IN TXT "a b" "c"']],
    [
      '$TTL and blank owner',
      '$TTL 1h\nmail MX 10 mx1\n  MX 20 mx2.other.net.',
      [
        'mail.example.org. 3600 IN MX 10 mx1.example.org.',
        'mail.example.org. 3600 IN MX 20 mx2.other.net.',
      ],
    ],
    [
      '$ORIGIN',
      '$ORIGIN sub.example.org.\nx AAAA 2001:DB8::0:1',
      ['x.sub.example.org. 3600 IN AAAA 2001:db8::1'],
    ],
    [
      'parentheses across lines',
      'srv ( 300 SRV 1 2 443\n target ) ; comment',
      ['srv.example.org. 300 IN SRV 1 2 443 target.example.org.'],
    ],
    [
      'CAA',
      '@ CAA 0 issue "letsencrypt.org"',
      ['example.org. 3600 IN CAA 0 issue "letsencrypt.org"'],
    ],
    ['escapes in TXT', 'x TXT "say \\"hi\\"\\059"', ['x.example.org. 3600 IN TXT "say \\"hi\\";"']],
    ['wildcard owner', '*.w CNAME www', ['*.w.example.org. 3600 IN CNAME www.example.org.']],
    [
      'RFC 3597 generic rdata',
      'x TYPE65534 \\# 2 abcd',
      ['x.example.org. 3600 IN TYPE65534 \\# 2 abcd'],
    ],
    ['BIND duration TTL', 'x 1h30m A 192.0.2.1', ['x.example.org. 5400 IN A 192.0.2.1']],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => assert.deepEqual(lines(records(text)), want));
  }

  const errors: Array<[string, string, RegExp]> = [
    ['bad address', 'x A 300.1.1.1', /line 1: .*not an IPv4 address/],
    ['unknown type', 'x BOGUS 1', /line 1: unknown type "BOGUS"/],
    ['missing type', '\n\nx 300', /line 3: record has no type/],
    ['unterminated string', 'x TXT "abc', /unterminated string/],
    ['unclosed parenthesis', 'x SOA ( a b', /never closed/],
    ['wrong arity', 'x MX mx1', /MX takes 2 fields/],
    ['bad owner label', 'a..b A 192.0.2.1', /empty label/],
    ['class other than IN', 'x CH TXT "a"', /class CH is not served/],
    ['$INCLUDE refused', '$INCLUDE /etc/passwd', /unsupported or incomplete directive/],
    ['TTL above 2^31-1', 'x 4294967295 A 192.0.2.1', /RFC 2181/],
    ['meta type', 'x ANY 1', /cannot be a zone record/],
  ];
  for (const [name, text, want] of errors) {
    it(`rejects ${name}`, () => assert.throws(() => records(text), want));
  }

  it('parses TTL units', () => {
    assert.equal(parseTtl('2w'), 1209600);
    assert.equal(parseTtl('1d2h'), 93600);
    assert.equal(parseTtl('abc'), undefined);
  });
});

describe('host names in rdata', () => {
  it('refuses an all-numeric top label, a mistyped address (RFC 3696 §2)', () => {
    assert.throws(() => records('x CNAME 203.0.113.300.'), /mistyped IP address/);
    assert.deepEqual(lines(records('x CNAME host-1.example.')), [
      'x.example.org. 3600 IN CNAME host-1.example.',
    ]);
  });
});
