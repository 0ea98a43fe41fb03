import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assignLabel, readableLabel } from '../../src/gslb/base-label.js';

describe('base labels', () => {
  it('maps dots to hyphens and doubles hyphens', () => {
    assert.equal(readableLabel('www.example.com'), 'www-example-com');
    assert.equal(readableLabel('my-site.example.com.'), 'my--site-example-com');
    assert.equal(readableLabel('xn--bcher-kva.example'), 'xn----bcher--kva-example');
  });

  it('keeps distinct names distinct where plain dot-to-hyphen would collide', () => {
    assert.notEqual(readableLabel('www-example.com'), readableLabel('www.example-com'));
    assert.notEqual(readableLabel('a-b.c'), readableLabel('a.b-c'));
  });

  it('uses a hashed label when the readable one is taken or too long', () => {
    const taken = new Set(['www-example-com']);
    const l = assignLabel('www.example.com', (x) => taken.has(x));
    assert.match(l, /^www-example-com-[0-9a-v]{10}$/);
    const long = `${'a'.repeat(40)}.${'b'.repeat(40)}.example.com`;
    const ll = assignLabel(long, () => false);
    assert.ok(ll.length <= 63, ll);
    assert.equal(
      assignLabel(long, () => false),
      ll,
      'stable for the same name',
    );
  });

  it('never returns a label that is taken', () => {
    const taken = new Set<string>();
    for (let i = 0; i < 50; i++) taken.add(assignLabel('www.example.com', (x) => taken.has(x)));
    assert.equal(taken.size, 50);
  });
});
