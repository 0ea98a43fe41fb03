import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RRType } from '../../src/wire/constants.js';
import { lookup, type LookupResult } from '../../src/zone/lookup.js';
import { lines, records, zone } from '../helpers/records.js';

const Z = zone(`
@          NS    ns1
@          NS    ns.other.net.
ns1        A     192.0.2.53
www        A     198.51.100.1
www        AAAA  2001:db8::1
alias      CNAME www
ext        CNAME cdn.other.net.
loop1      CNAME loop2
loop2      CNAME loop1
dead       CNAME nothere
a.b.c      TXT   "deep"
*.wild     A     198.51.100.9
*.wild     TXT   "wild"
x.wild     TXT   "explicit"
mail       MX    10 ns1
sub        NS    ns.sub
ns.sub     A     192.0.2.99
big        TXT   "one"
big        TXT   "two"
`);

function run(name: string, type: number, minimalAny = true): LookupResult {
  return lookup(Z, name, type, { minimalAny });
}

describe('zone lookup', () => {
  it('answers an exact match', () => {
    const r = run('www.example.org', RRType.A);
    assert.equal(r.kind, 'answer');
    assert.deepEqual(lines(r.answer), ['www.example.org. 3600 IN A 198.51.100.1']);
  });

  it('gives NODATA for a missing type at an existing name', () => {
    assert.equal(run('www.example.org', RRType.MX).kind, 'nodata');
  });

  it('gives NODATA (not NXDOMAIN) at an empty non-terminal', () => {
    assert.equal(run('b.c.example.org', RRType.A).kind, 'nodata');
    assert.equal(run('c.example.org', RRType.TXT).kind, 'nodata');
  });

  it('gives NXDOMAIN for a name that does not exist', () => {
    assert.equal(run('nope.example.org', RRType.A).kind, 'nxdomain');
    assert.equal(run('x.a.b.c.example.org', RRType.A).kind, 'nxdomain');
  });

  it('follows a CNAME inside the zone', () => {
    const r = run('alias.example.org', RRType.A);
    assert.equal(r.kind, 'answer');
    assert.deepEqual(lines(r.answer), [
      'alias.example.org. 3600 IN CNAME www.example.org.',
      'www.example.org. 3600 IN A 198.51.100.1',
    ]);
  });

  it('answers the CNAME itself for qtype CNAME', () => {
    assert.deepEqual(lines(run('alias.example.org', RRType.CNAME).answer), [
      'alias.example.org. 3600 IN CNAME www.example.org.',
    ]);
  });

  it('stops at an out-of-zone CNAME target', () => {
    const r = run('ext.example.org', RRType.A);
    assert.equal(r.kind, 'answer');
    assert.equal(r.answer.length, 1);
  });

  it('keeps the CNAME in a negative answer whose target does not exist (RFC 6604)', () => {
    const r = run('dead.example.org', RRType.A);
    assert.equal(r.kind, 'nxdomain');
    assert.deepEqual(lines(r.answer), ['dead.example.org. 3600 IN CNAME nothere.example.org.']);
  });

  it('does not loop on a CNAME cycle', () => {
    const r = run('loop1.example.org', RRType.A);
    assert.equal(r.kind, 'answer');
    assert.equal(r.answer.length, 2);
  });

  it('synthesises from a wildcard with the query name as owner', () => {
    const r = run('anything.wild.example.org', RRType.A);
    assert.deepEqual(lines(r.answer), ['anything.wild.example.org. 3600 IN A 198.51.100.9']);
  });

  it('does not apply the wildcard to a name that exists', () => {
    assert.equal(run('x.wild.example.org', RRType.A).kind, 'nodata');
    assert.deepEqual(lines(run('x.wild.example.org', RRType.TXT).answer), [
      'x.wild.example.org. 3600 IN TXT "explicit"',
    ]);
  });

  it('refers below a zone cut, with glue', () => {
    const r = run('host.sub.example.org', RRType.A);
    assert.equal(r.kind, 'referral');
    if (r.kind !== 'referral') return;
    assert.deepEqual(lines(r.authority), ['sub.example.org. 3600 IN NS ns.sub.example.org.']);
    assert.deepEqual(lines(r.additional), ['ns.sub.example.org. 3600 IN A 192.0.2.99']);
  });

  it('answers DS at a zone cut from the parent side instead of referring (RFC 4035 §3.1.4.1)', () => {
    assert.equal(run('sub.example.org', RRType.DS).kind, 'nodata');
    assert.equal(run('sub.example.org', RRType.A).kind, 'referral');
  });

  it('adds glue for apex NS and MX targets in the zone', () => {
    const ns = run('example.org', RRType.NS);
    assert.equal(ns.kind, 'answer');
    if (ns.kind === 'answer')
      assert.deepEqual(lines(ns.additional), ['ns1.example.org. 3600 IN A 192.0.2.53']);
    const mx = run('mail.example.org', RRType.MX);
    if (mx.kind === 'answer')
      assert.deepEqual(lines(mx.additional), ['ns1.example.org. 3600 IN A 192.0.2.53']);
  });

  it('answers ANY minimally over UDP and fully over TCP (RFC 8482)', () => {
    assert.equal(run('www.example.org', RRType.ANY, true).answer.length, 1);
    assert.equal(run('www.example.org', RRType.ANY, false).answer.length, 2);
  });

  it('reaches dynamic names through a CNAME', () => {
    const [edge] = records('dyn A 192.0.2.7');
    const zoneWithChain = zone('to-dyn CNAME dyn');
    const r = lookup(zoneWithChain, 'to-dyn.example.org', RRType.A, {
      minimalAny: true,
      dynamic: (n) => (n === 'dyn.example.org' ? { records: [edge as never] } : undefined),
      dynamicExists: (n) => n === 'dyn.example.org',
    });
    assert.deepEqual(lines(r.answer), [
      'to-dyn.example.org. 3600 IN CNAME dyn.example.org.',
      'dyn.example.org. 3600 IN A 192.0.2.7',
    ]);
  });

  it('keeps one TTL per RRset (RFC 2181 §5.2)', () => {
    const z = zone('t 10 A 192.0.2.1\nt 20 A 192.0.2.2');
    assert.deepEqual(lines(lookup(z, 't.example.org', RRType.A, { minimalAny: true }).answer), [
      't.example.org. 10 IN A 192.0.2.1',
      't.example.org. 10 IN A 192.0.2.2',
    ]);
  });

  it('rejects a CNAME beside other data and a CNAME at the apex', () => {
    assert.throws(() => zone('x CNAME www\nx A 192.0.2.1'), /CNAME and other data/);
    assert.throws(() => zone('@ CNAME www'), /apex/);
  });

  it('rejects records outside the zone', () => {
    assert.throws(() => zone('www.elsewhere.net. A 192.0.2.1'), /outside the zone/);
  });
});
