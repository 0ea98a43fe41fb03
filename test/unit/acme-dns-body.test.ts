// acme-dns body keys as Go's encoding/json matches them to struct fields.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { foldKey, readFields } from '../../src/acme/acme-dns-body.js';

describe('foldKey (Go encoding/json field matching)', () => {
  const cases: Array<[string, string]> = [
    ['subdomain', 'subdomain'],
    ['SubDomain', 'subdomain'],
    ['SUBDOMAIN', 'subdomain'],
    ['Txt', 'txt'],
    ['AllowFrom', 'allowfrom'],
    ['\u017fubdomain', 'subdomain'], // ſ (long s) is in the fold orbit of s
    ['\u212aey', 'key'], // K (Kelvin sign) is in the fold orbit of k
    ['\u0131d', '\u0131d'], // ı (dotless i) folds only with itself
    ['\u0130d', '\u0130d'], // İ likewise
    ['allow_from', 'allow_from'], // no other normalisation: _ and - stay
    ['ALLOW-FROM', 'allow-from'],
  ];
  for (const [key, want] of cases)
    it(`${JSON.stringify(key)} → ${want}`, () => assert.equal(foldKey(key), want));
});

describe('readFields', () => {
  it('sorts keys onto fields, lists unknown keys and fields given twice', () => {
    const r = readFields({ SubDomain: 'a', TXT: 'v', Extra: 1, subdomain: 'b' }, [
      'subdomain',
      'txt',
    ]);
    assert.deepEqual(
      [...r.fields],
      [
        ['subdomain', 'b'],
        ['txt', 'v'],
      ],
    );
    assert.deepEqual(r.unknown, ['Extra']);
    assert.deepEqual(r.repeated, ['SubDomain/subdomain']);
  });

  it('an empty object has no fields', () => {
    assert.deepEqual(readFields({}, ['allowfrom']), {
      fields: new Map(),
      unknown: [],
      repeated: [],
    });
  });
});
