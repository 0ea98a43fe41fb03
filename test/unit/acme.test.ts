// The pure parts of ACME: which UPDATE owners a key may change, renewal windows and spread,
// UPDATE message parsing, TXT values and password hashes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { challengeOwner, domainAllowed } from '../../src/acme/update.js';
import { renewalDue, spreadDelay } from '../../src/acme/certificates.js';
import { MalformedUpdate, parseUpdate, txtValue } from '../../src/wire/update.js';
import { txtProblem } from '../../src/acme/txt-service.js';
import { hashPassword, verifyPassword } from '../../src/acme/password.js';
import { checkAllowfrom } from '../../src/acme/dns-accounts.js';
import { encodeName } from '../../src/wire/name.js';
import { txtRdata } from '../../src/wire/rdata.js';

const ACME = 'acme.cdn.example.net';
const DAY = 86_400_000;

describe('RFC 2136 policy', () => {
  const cases: Array<[string, string[], boolean]> = [
    ['app.example.com', ['app.example.com'], true],
    ['APP.example.com'.toLowerCase(), ['App.Example.com.'], true],
    ['www.app.example.com', ['app.example.com'], false],
    ['shop.customers.example', ['*.customers.example'], true],
    ['a.b.customers.example', ['*.customers.example'], true],
    ['customers.example', ['*.customers.example'], false],
    ['evilcustomers.example', ['*.customers.example'], false],
  ];
  for (const [domain, allowed, want] of cases)
    it(`${domain} with ${allowed.join(',')} → ${want}`, () =>
      assert.equal(domainAllowed(domain, allowed), want));

  it('maps owners to store names, refusing everything else with a reason', () => {
    assert.deepEqual(
      challengeOwner(`_acme-challenge.app.example.com.${ACME}`, ACME, ['app.example.com']),
      {
        name: '_acme-challenge.app.example.com',
      },
    );
    const refused = (owner: string) => {
      const r = challengeOwner(owner, ACME, ['app.example.com']);
      assert.ok('refused' in r, owner);
      return r.refused;
    };
    assert.match(refused(`_acme-challenge.app.example.com.cdn.example.net`), /outside/);
    assert.match(refused(`app.example.com.${ACME}`), /not an _acme-challenge name/);
    assert.match(refused(`_acme-challenge.other.example.com.${ACME}`), /may not change/);
  });
});

describe('renewal', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  it('is due inside the window, not before, and for an unreadable expiry', () => {
    assert.equal(renewalDue(new Date(now + 31 * DAY).toISOString(), now, 30), false);
    assert.equal(renewalDue(new Date(now + 30 * DAY).toISOString(), now, 30), true);
    assert.equal(renewalDue(new Date(now - DAY).toISOString(), now, 30), true);
    assert.equal(renewalDue('', now, 30), true);
  });
  it('spreads domains over the window, stably', () => {
    const delays = ['a.example', 'b.example', 'c.example', 'd.example'].map((d) =>
      spreadDelay(d, 3_600_000),
    );
    for (const d of delays) assert.ok(d >= 0 && d < 3_600_000);
    assert.ok(new Set(delays).size > 1, 'not all at once');
    assert.equal(spreadDelay('a.example', 3_600_000), delays[0]);
    assert.equal(spreadDelay('a.example', 0), 0);
  });
});

describe('UPDATE message', () => {
  function update(records: Buffer[], prereqs: Buffer[] = []): Buffer {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(0x1234, 0);
    h.writeUInt16BE(5 << 11, 2);
    h.writeUInt16BE(1, 4);
    h.writeUInt16BE(prereqs.length, 6);
    h.writeUInt16BE(records.length, 8);
    const zone = Buffer.concat([encodeName('cdn.example.net'), Buffer.from([0, 6, 0, 1])]);
    return Buffer.concat([h, zone, ...prereqs, ...records]);
  }
  function rr(owner: Buffer, type: number, cls: number, ttl: number, rdata: Buffer): Buffer {
    const f = Buffer.alloc(10);
    f.writeUInt16BE(type, 0);
    f.writeUInt16BE(cls, 2);
    f.writeUInt32BE(ttl, 4);
    f.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([owner, f, rdata]);
  }

  it('reads the zone and records, following a compression pointer to the zone name', () => {
    // "_acme-challenge" + pointer to offset 12 (the zone name).
    const owner = Buffer.concat([
      Buffer.from([15]),
      Buffer.from('_acme-challenge'),
      Buffer.from([0xc0, 12]),
    ]);
    const msg = update([
      rr(owner, 16, 1, 60, txtRdata('v1')),
      rr(owner, 16, 255, 0, Buffer.alloc(0)),
    ]);
    const u = parseUpdate(msg);
    assert.equal(u.zone, 'cdn.example.net');
    assert.equal(u.zoneType, 6);
    assert.deepEqual(
      u.updates.map((r) => [r.name, r.type, r.class, r.ttl, r.rdata.length]),
      [
        ['_acme-challenge.cdn.example.net', 16, 1, 60, 3],
        ['_acme-challenge.cdn.example.net', 16, 255, 0, 0],
      ],
    );
  });

  it('refuses truncated messages and a pointer loop', () => {
    const msg = update([rr(encodeName('x.cdn.example.net'), 16, 1, 60, txtRdata('v'))]);
    assert.throws(() => parseUpdate(msg.subarray(0, msg.length - 1)), MalformedUpdate);
    const loop = update([rr(Buffer.from([0xc0, 33]), 16, 1, 60, txtRdata('v'))]);
    assert.throws(() => parseUpdate(loop), MalformedUpdate);
  });

  it('joins TXT character-strings', () => {
    assert.equal(txtValue(Buffer.concat([txtRdata('ab'), txtRdata('cd')])), 'abcd');
    assert.throws(() => txtValue(Buffer.from([5, 0x61])), MalformedUpdate);
  });
});

describe('acme-dns values and credentials', () => {
  it('accepts DNS-01 digests and printable text, refuses quotes, backslashes and empties', () => {
    assert.equal(txtProblem('LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo'), undefined);
    assert.equal(txtProblem('hello world'), undefined);
    for (const bad of ['', 'a"b', 'a\\b', 'x'.repeat(256), 'tab\there', 42])
      assert.ok(txtProblem(bad), JSON.stringify(bad));
  });
  it('reads allowfrom entries as CIDRs, bare addresses as hosts', () => {
    assert.deepEqual(checkAllowfrom(['192.0.2.0/24', '198.51.100.7', '2001:db8::1']), [
      '192.0.2.0/24',
      '198.51.100.7/32',
      '2001:db8::1/128',
    ]);
    assert.throws(() => checkAllowfrom(['192.0.2.0/33']));
    assert.throws(() => checkAllowfrom(['not-an-address']));
  });
  it('hashes passwords with a salt and verifies them', async () => {
    const a = await hashPassword('secret-password');
    const b = await hashPassword('secret-password');
    assert.notEqual(a, b, 'salted');
    assert.equal(await verifyPassword('secret-password', a), true);
    assert.equal(await verifyPassword('wrong', a), false);
    assert.equal(await verifyPassword('secret-password', 'sha256$abc'), false);
  });
});
