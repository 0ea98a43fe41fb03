// RFC 2136 UPDATE of challenge TXT records with real nsupdate (bind9-dnsutils), TSIG-signed,
// read back with real dig: what the key may change lands in the zone; everything else is
// REFUSED, and a bad signature NOTAUTH.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { nsupdate } from '../helpers/nsupdate.js';

const SECRET = randomBytes(32).toString('base64');
const OTHER_SECRET = randomBytes(32).toString('base64');
const ZONE = 'cdn.example.net';
const OWNER = `_acme-challenge.app.example.com.acme.${ZONE}`;

describe('RFC 2136 UPDATE with nsupdate and TSIG', () => {
  let run: RunningCirrus;
  const send = (key: string | null, lines: string[], zone: string | null = ZONE) =>
    nsupdate(key ? ['-y', key] : [], [
      `server 127.0.0.1 ${run.dnsPort}`,
      // nsupdate's own host-name check would refuse an A record at an _acme-challenge owner.
      'check-names off',
      ...(zone ? [`zone ${zone}`] : []),
      ...lines,
      'send',
    ]);
  const acmeKey = `hmac-sha256:acme-key:${SECRET}`;
  const txt = async (name = OWNER) =>
    (await dig(run.dnsPort, [name, 'TXT'])).answer
      .map((l) => l.split(' ').slice(4).join(' '))
      .sort();

  before(async () => {
    run = await startCirrus({
      zone: { name: ZONE },
      xfr: {
        keys: [
          { name: 'acme-key', algorithm: 'hmac-sha256', secret: SECRET },
          { name: 'xfr-only', algorithm: 'hmac-sha256', secret: OTHER_SECRET },
        ],
      },
      acme: {
        txtTtl: 20,
        issuer: { enabled: false },
        update: {
          keys: [{ key: 'acme-key', domains: ['app.example.com', '*.customers.example'] }],
        },
      },
    });
  });
  after(() => run?.stop());

  it('adds two values, deletes one, then the whole RRset', async () => {
    const add = await send(acmeKey, [
      `update add ${OWNER} 60 TXT "first-value"`,
      `update add ${OWNER} 60 TXT "second-value"`,
    ]);
    assert.equal(add.code, 0, add.output);
    const answer = await dig(run.dnsPort, [OWNER, 'TXT']);
    assert.deepEqual(answer.answer.sort(), [
      `${OWNER}. 20 IN TXT "first-value"`,
      `${OWNER}. 20 IN TXT "second-value"`,
    ]);

    const delOne = await send(acmeKey, [`update delete ${OWNER} TXT "first-value"`]);
    assert.equal(delOne.code, 0, delOne.output);
    assert.deepEqual(await txt(), ['"second-value"']);

    const delAll = await send(acmeKey, [`update delete ${OWNER} TXT`]);
    assert.equal(delAll.code, 0, delAll.output);
    assert.deepEqual(await txt(), []);
  });

  it('finds the zone by itself (SOA discovery) and honours a wildcard domain entry', async () => {
    const owner = `_acme-challenge.shop.customers.example.acme.${ZONE}`;
    const res = await send(acmeKey, [`update add ${owner} 60 TXT "via-discovery"`], null);
    assert.equal(res.code, 0, res.output);
    assert.deepEqual(await txt(owner), ['"via-discovery"']);
  });

  it('refuses names, types and keys outside the policy, and unsigned updates', async () => {
    const other = `_acme-challenge.evil.example.org.acme.${ZONE}`;
    const cases: Array<[string, string | null, string[]]> = [
      ['another domain', acmeKey, [`update add ${other} 60 TXT "x"`]],
      [
        'not an _acme-challenge name',
        acmeKey,
        [`update add app.example.com.acme.${ZONE} 60 TXT "x"`],
      ],
      [
        'outside the acme zone',
        acmeKey,
        [`update add _acme-challenge.app.example.com.${ZONE} 60 TXT "x"`],
      ],
      ['a type other than TXT', acmeKey, [`update add ${OWNER} 60 A 192.0.2.1`]],
      [
        'a key not listed for updates',
        `hmac-sha256:xfr-only:${OTHER_SECRET}`,
        [`update add ${OWNER} 60 TXT "x"`],
      ],
      ['unsigned', null, [`update add ${OWNER} 60 TXT "x"`]],
    ];
    for (const [what, key, lines] of cases) {
      const res = await send(key, lines);
      assert.notEqual(res.code, 0, what);
      assert.match(res.output, /REFUSED/, `${what}: ${res.output}`);
    }
    assert.deepEqual(await txt(), [], 'nothing was added');
    assert.deepEqual(await txt(other), []);
  });

  it('answers NOTAUTH to a bad signature and to a zone it does not serve', async () => {
    const badSig = await send(`hmac-sha256:acme-key:${OTHER_SECRET}`, [
      `update add ${OWNER} 60 TXT "forged"`,
    ]);
    assert.notEqual(badSig.code, 0);
    assert.match(badSig.output, /NOTAUTH|tsig/i, badSig.output);
    const otherZone = await send(
      acmeKey,
      [`update add _acme-challenge.x.example.org 60 TXT "x"`],
      'example.org',
    );
    assert.notEqual(otherZone.code, 0);
    assert.match(otherZone.output, /NOTAUTH/, otherZone.output);
    assert.deepEqual(await txt(), []);
  });
});
