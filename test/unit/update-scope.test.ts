// Which owners and types a key's RFC 2136 UPDATE scope covers, and how a bad scope in the
// config file is reported (the field it names).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { finishConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/lib/errors.js';
import { UpdateScope } from '../../src/xfr/update-scope.js';
import { RRType } from '../../src/wire/constants.js';

const SECRET = 'c2NvcGVkLWtleS1zZWNyZXQtZXhhbXBsZS0zMi1ieXRlcw==';

describe('UpdateScope', () => {
  const scope = new UpdateScope({
    names: ['*.Apps.cdn.example.net.', 'www.cdn.example.net'],
    types: ['a', 'TXT'],
    transfer: true,
  });
  const cases: Array<[string, boolean]> = [
    ['web.apps.cdn.example.net', true],
    ['a.b.apps.cdn.example.net', true],
    ['*.apps.cdn.example.net', true],
    ['apps.cdn.example.net', false], // `*.x` is strictly below x
    ['xapps.cdn.example.net', false],
    ['www.cdn.example.net', true],
    ['sub.www.cdn.example.net', false], // an exact name covers only itself
    ['cdn.example.net', false],
  ];
  for (const [name, covered] of cases)
    it(`${name}: ${covered ? 'covered' : 'not covered'}`, () =>
      assert.equal(scope.coversName(name), covered));
  it('covers the listed types only', () => {
    assert.ok(scope.coversType(RRType.A));
    assert.ok(scope.coversType(RRType.TXT));
    assert.ok(!scope.coversType(RRType.AAAA));
    assert.ok(!scope.coversType(RRType.CNAME));
  });
});

describe('xfr.keys[].update in the config', () => {
  const load = (update: unknown) => () =>
    finishConfig({
      seed: { dir: null },
      zone: { name: 'cdn.example.net' },
      xfr: { keys: [{ name: 'k', secret: SECRET, update }] },
    });
  const fails = (update: unknown, field: string, message: RegExp) =>
    assert.throws(load(update), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.field, field);
      assert.match(err.message, message);
      return true;
    });

  it('loads a good scope, transfer on by default', () => {
    const cfg = load({ names: ['*.apps.cdn.example.net'], types: ['A', 'CNAME'] })();
    assert.equal(cfg.xfr.keys[0]?.update?.transfer, true);
  });
  it('names the field of a name outside the zone', () =>
    fails({ names: ['*.example.org'], types: ['A'] }, 'xfr.keys[0].update.names[0]', /outside/));
  it('names the field of a bad name', () =>
    fails(
      { names: ['a..cdn.example.net'], types: ['A'] },
      'xfr.keys[0].update.names[0]',
      /empty label/,
    ));
  it('names the field of an unknown type', () =>
    fails(
      { names: ['x.cdn.example.net'], types: ['A', 'BOGUS'] },
      'xfr.keys[0].update.types[1]',
      /unknown/,
    ));
  it('refuses SOA and ANY', () => {
    fails({ names: ['x.cdn.example.net'], types: ['SOA'] }, 'xfr.keys[0].update.types[0]', /SOA/);
    fails({ names: ['x.cdn.example.net'], types: ['ANY'] }, 'xfr.keys[0].update.types[0]', /ANY/);
  });
});
