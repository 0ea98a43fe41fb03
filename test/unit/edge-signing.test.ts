// Signed-URL tokens as the API and CLI make them (the edge checks the same bytes:
// test/integration/edge-tiers.test.ts), and the edge fields TypeBox cannot check.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signToken, signUrl } from '../../src/edge/signing.js';
import { checkEdgeFields } from '../../src/model/edge.js';

const key = { id: 'k1', secret: 'first-secret-0123456789' };
const hmac = (msg: string) => createHmac('sha256', key.secret).update(msg).digest('hex');

describe('signed-URL tokens', () => {
  it('signs path and expiry, or a path prefix and client prefix instead of the path', () => {
    assert.equal(
      signToken(key, { path: '/v/a.ts', expires: 1700000000 }),
      `exp=1700000000~kid=k1~hmac=${hmac('exp=1700000000~kid=k1~url=/v/a.ts')}`,
    );
    const scoped = signToken(key, {
      path: '/v/a.ts',
      expires: 1700000000,
      clientPrefix: '192.0.2.0/24',
      pathPrefix: '/v/',
    });
    const body = 'exp=1700000000~kid=k1~ip=192.0.2.0%2F24~path=%2Fv%2F';
    assert.equal(scoped, `${body}~hmac=${hmac(body)}`, 'no ~url= when a path prefix is named');
  });

  it('puts the token in the domain parameter, replacing an earlier one, path decoded', () => {
    const s = signUrl(
      { keys: [key, { id: 'k0', secret: 'older-secret-0123456789' }], param: 'sig' },
      'https://v.test/a%20b.ts?x=1&sig=old',
      { ttl: 60, now: 1_700_000_000_000 },
    );
    assert.equal(s.keyId, 'k1', 'the first key signs');
    assert.equal(s.expires, new Date(1_700_000_060_000).toISOString());
    assert.equal(s.token, signToken(key, { path: '/a b.ts', expires: 1_700_000_060 }));
    assert.equal(s.url, `https://v.test/a%20b.ts?x=1&sig=${encodeURIComponent(s.token)}`);
    assert.equal(s.cookie, `cirrus_token=${encodeURIComponent(s.token)}`);
    assert.throws(
      () => signUrl({ keys: [key] }, 'https://v.test/a.ts', { pathPrefix: '/b/' }),
      /pathPrefix/,
    );
  });
});

describe('edge fields', () => {
  const field = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      return (err as { field?: string }).field;
    }
    return undefined;
  };
  it('names the field of each problem', () => {
    assert.equal(
      field(() => checkEdgeFields({ shield: {} }, 'body')),
      'body.shield',
    );
    assert.equal(
      field(() => checkEdgeFields({ shield: { node: 'a', pool: 'p' } }, 'body')),
      'body.shield',
    );
    assert.equal(
      field(() => checkEdgeFields({ limits: { rps: 1, clientHeader: 'X-Client-IP' } }, 'body')),
      'body.limits.clientHeader',
    );
    assert.equal(
      field(() =>
        checkEdgeFields(
          { limits: { clientHeader: 'X-Client-IP', trustedSources: ['10.0.0.0/8', '1.2.3.4/40'] } },
          'body',
        ),
      ),
      'body.limits.trustedSources[1]',
    );
    assert.equal(
      field(() => checkEdgeFields({ signing: { keys: [key, { ...key }] } }, 'body')),
      'body.signing.keys',
    );
    assert.equal(
      field(() =>
        checkEdgeFields(
          {
            shield: { pool: 'core', port: 8080 },
            limits: { rps: 5, trustedSources: ['2001:db8::/32'], clientHeader: 'X-Client-IP' },
            signing: { keys: [key] },
          },
          'body',
        ),
      ),
      undefined,
    );
  });
});
