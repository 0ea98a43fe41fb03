// The acme-dns API over real HTTP and the TXT records it publishes, read with real dig:
// registration, credentials, allowfrom, several values per name, deletion, expiry, and the
// values in the exported zone (what secondaries transfer) with a new serial.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startCirrus, api, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';

const DIGEST_A = 'LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo';
const DIGEST_B = 'kbGbjQHKQGm4ofXAjlfhXPTdCzuLrhbS2aoXEJo0RKM';

interface Registration {
  username: string;
  password: string;
  fulldomain: string;
  subdomain: string;
  allowfrom: string[];
}

// `any`: the acme-dns replies are asserted field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function call(
  run: RunningCirrus,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Json }> {
  const res = await fetch(run.apiUrl + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

const creds = (r: Registration) => ({ 'X-Api-User': r.username, 'X-Api-Key': r.password });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function txtAt(run: RunningCirrus, name: string): Promise<string[]> {
  const r = await dig(run.dnsPort, [name, 'TXT']);
  return r.answer.map((l) => (/"([^"]*)"$/.exec(l) as RegExpExecArray)[1] as string).sort();
}

describe('acme-dns API (real HTTP, real dig)', () => {
  let run: RunningCirrus;
  before(async () => {
    run = await startCirrus({
      zone: { name: 'cdn.example.net' },
      acme: { txtLifetimeSec: 300, txtTtl: 15, issuer: { enabled: false } },
    });
  });
  after(() => run?.stop());

  it('GET /health answers 200', async () => {
    const res = await fetch(run.apiUrl + '/health');
    assert.equal(res.status, 200);
  });

  it('registers, updates with X-Api-User/X-Api-Key, serves every value, deletes one', async () => {
    const reg = await call(run, 'POST', '/register', '');
    assert.equal(reg.status, 201);
    const r = reg.json as Registration;
    assert.match(r.username, /^[0-9a-f-]{36}$/);
    assert.equal(r.password.length, 40);
    assert.equal(r.fulldomain, `${r.subdomain}.acme.cdn.example.net`);
    assert.deepEqual(r.allowfrom, []);

    const serialBefore = (await api(run, 'GET', '/healthz')).json.serial as number;
    const up = await call(
      run,
      'POST',
      '/update',
      { subdomain: r.subdomain, txt: DIGEST_A },
      creds(r),
    );
    assert.equal(up.status, 200);
    assert.deepEqual(up.json, { txt: DIGEST_A });
    const answer = await dig(run.dnsPort, [r.fulldomain, 'TXT']);
    assert.equal(answer.status, 'NOERROR');
    assert.ok(answer.flags.includes('aa'));
    assert.deepEqual(answer.answer, [`${r.fulldomain}. 15 IN TXT "${DIGEST_A}"`]);
    const serialAfter = (await api(run, 'GET', '/healthz')).json.serial as number;
    assert.notEqual(serialAfter, serialBefore, 'a new TXT value is new zone content');

    // Beyond acme-dns's newest-two: a third value keeps the first two.
    await call(run, 'POST', '/update', { subdomain: r.subdomain, txt: DIGEST_B }, creds(r));
    await call(run, 'POST', '/update', { subdomain: r.subdomain, txt: 'third-value' }, creds(r));
    assert.deepEqual(await txtAt(run, r.fulldomain), [DIGEST_A, DIGEST_B, 'third-value'].sort());

    const zone = (await api(run, 'GET', '/api/v1/zone')).json as string;
    assert.match(zone, new RegExp(`${r.fulldomain}\\.\\s+15\\s+IN\\s+TXT\\s+"${DIGEST_B}"`));

    // As `curl -d` sends it: a form Content-Type, read as JSON like acme-dns does.
    const form = await fetch(run.apiUrl + '/update', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...creds(r) },
      body: JSON.stringify({ subdomain: r.subdomain, txt: 'form-value' }),
    });
    assert.equal(form.status, 200);
    assert.deepEqual(
      await txtAt(run, r.fulldomain),
      [DIGEST_A, DIGEST_B, 'form-value', 'third-value'].sort(),
    );
    await call(run, 'DELETE', '/update', { subdomain: r.subdomain, txt: 'form-value' }, creds(r));

    const del = await call(
      run,
      'DELETE',
      '/update',
      { subdomain: r.subdomain, txt: DIGEST_A },
      creds(r),
    );
    assert.deepEqual([del.status, del.json], [200, { removed: 1 }]);
    assert.deepEqual(await txtAt(run, r.fulldomain), [DIGEST_B, 'third-value'].sort());
    const all = await call(run, 'DELETE', '/update', { subdomain: r.subdomain }, creds(r));
    assert.deepEqual(all.json, { removed: 2 });
    const gone = await dig(run.dnsPort, [r.fulldomain, 'TXT']);
    assert.deepEqual(gone.answer, []);
  });

  it('refuses wrong credentials, another subdomain, and bad input with acme-dns error codes', async () => {
    const a = (await call(run, 'POST', '/register', {})).json as Registration;
    const b = (await call(run, 'POST', '/register', {})).json as Registration;
    const wrongKey = await call(
      run,
      'POST',
      '/update',
      { subdomain: a.subdomain, txt: DIGEST_A },
      { 'X-Api-User': a.username, 'X-Api-Key': b.password },
    );
    assert.deepEqual([wrongKey.status, wrongKey.json.error], [401, 'forbidden']);
    const noHeaders = await call(run, 'POST', '/update', { subdomain: a.subdomain, txt: DIGEST_A });
    assert.deepEqual([noHeaders.status, noHeaders.json.error], [401, 'forbidden']);
    const otherSub = await call(
      run,
      'POST',
      '/update',
      { subdomain: b.subdomain, txt: DIGEST_A },
      creds(a),
    );
    assert.deepEqual([otherSub.status, otherSub.json.error], [401, 'forbidden']);
    const badTxt = await call(
      run,
      'POST',
      '/update',
      { subdomain: a.subdomain, txt: 'a"b' },
      creds(a),
    );
    assert.deepEqual([badTxt.status, badTxt.json.error], [400, 'bad_txt']);
    const malformed = await call(run, 'POST', '/update', '{not json', creds(a));
    assert.deepEqual([malformed.status, malformed.json.error], [400, 'malformed_json_payload']);
    const badCidr = await call(run, 'POST', '/register', { allowfrom: ['10.0.0.0/33'] });
    assert.deepEqual([badCidr.status, badCidr.json.error], [400, 'invalid_allowfrom_cidr']);
    assert.deepEqual(await txtAt(run, b.fulldomain), [], 'nothing was published for b');
    assert.deepEqual(await txtAt(run, a.fulldomain), []);
  });

  it('enforces allowfrom against the source address', async () => {
    const outside = (await call(run, 'POST', '/register', { allowfrom: ['192.0.2.0/24'] }))
      .json as Registration;
    assert.deepEqual(outside.allowfrom, ['192.0.2.0/24']);
    const refused = await call(
      run,
      'POST',
      '/update',
      { subdomain: outside.subdomain, txt: DIGEST_A },
      creds(outside),
    );
    assert.deepEqual([refused.status, refused.json.error], [401, 'forbidden']);
    const inside = (await call(run, 'POST', '/register', { allowfrom: ['127.0.0.0/8', '::1/128'] }))
      .json as Registration;
    const ok = await call(
      run,
      'POST',
      '/update',
      { subdomain: inside.subdomain, txt: DIGEST_A },
      creds(inside),
    );
    assert.equal(ok.status, 200);
    assert.deepEqual(await txtAt(run, inside.fulldomain), [DIGEST_A]);
  });

  /** A request with exactly these body bytes and headers, as a client's code builds it. */
  async function raw(
    path: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; json: Json }> {
    const res = await fetch(run.apiUrl + path, { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, json: text === '' ? null : JSON.parse(text) };
  }
  const goacmedns = {
    'Content-Type': 'application/json',
    'User-Agent': 'goacmedns (linux; amd64)',
  };

  it('goacmedns (lego, cert-manager): `AllowFrom` restricts the account, `SubDomain`/`Txt` update', async () => {
    // goacmedns marshals struct{ AllowFrom []string } and struct{ SubDomain, Txt string }
    // with Go's encoding/json: field names as declared, no spaces.
    const reg = await raw('/register', '{"AllowFrom":["192.0.2.0/24"]}', goacmedns);
    assert.equal(reg.status, 201);
    const restricted = reg.json as Registration;
    assert.deepEqual(restricted.allowfrom, ['192.0.2.0/24'], 'AllowFrom is honoured');
    const stored = await run.cirrus.repos.acme.getDnsAccount(restricted.username);
    assert.deepEqual(stored?.allowfrom, ['192.0.2.0/24']);
    const body = (sub: string) => `{"SubDomain":"${sub}","Txt":"${DIGEST_B}"}`;
    const fromOutside = await raw('/update', body(restricted.subdomain), {
      ...goacmedns,
      ...creds(restricted),
    });
    assert.deepEqual([fromOutside.status, fromOutside.json.error], [401, 'forbidden']);
    assert.deepEqual(await txtAt(run, restricted.fulldomain), []);

    // goacmedns sends no body at all when AllowFrom is empty (lego's first run).
    const open = (await raw('/register', '', goacmedns)).json as Registration;
    assert.deepEqual(open.allowfrom, []);
    const up = await raw('/update', body(open.subdomain), { ...goacmedns, ...creds(open) });
    assert.deepEqual([up.status, up.json.txt], [200, DIGEST_B]);
    assert.deepEqual(await txtAt(run, open.fulldomain), [DIGEST_B]);
  });

  it('acme.sh dns_acmedns: its hand-written body with a form content type', async () => {
    const r = (await call(run, 'POST', '/register', {})).json as Registration;
    // dnsapi/dns_acmedns.sh: data="{\"subdomain\":\"$ACMEDNS_SUBDOMAIN\", \"txt\": \"$txtvalue\"}"
    const up = await raw('/update', `{"subdomain":"${r.subdomain}", "txt": "${DIGEST_A}"}`, {
      'Content-Type': 'application/x-www-form-urlencoded',
      ...creds(r),
    });
    assert.equal(up.status, 200);
    // acme.sh checks the reply contains "<value>" in quotes.
    assert.ok(JSON.stringify(up.json).includes(`"${DIGEST_A}"`));
    assert.deepEqual(await txtAt(run, r.fulldomain), [DIGEST_A]);
  });

  it('keys match in any letter case, as Go folds them; a misspelt restriction is refused', async () => {
    // U+017F (long s) folds to s and U+212A (Kelvin sign) to k in Go's decoder.
    const folded = await raw('/register', '{"ALLOWFROM":["192.0.2.1"]}', goacmedns);
    assert.deepEqual(folded.json.allowfrom, ['192.0.2.1/32']);
    const longS = (await raw('/register', '{"allowfrom":["198.51.100.0/24"]}', goacmedns))
      .json as Registration;
    const up = await raw('/update', `{"\u017fubdomain":"${longS.subdomain}","TXT":"${DIGEST_A}"}`, {
      ...goacmedns,
      ...creds(longS),
    });
    assert.deepEqual([up.status, up.json.error], [401, 'forbidden'], 'allowfrom still applies');

    for (const body of ['{"allow_from":["192.0.2.0/24"]}', '{"allowedFrom":["192.0.2.0/24"]}']) {
      const refused = await raw('/register', body, goacmedns);
      assert.equal(refused.status, 400, body);
      assert.equal(refused.json.error, 'malformed_json_payload');
      assert.match(refused.json.message, /unknown field "allow(_from|edFrom)"/);
    }
    const twice = await raw(
      '/register',
      '{"allowfrom":["192.0.2.0/24"],"AllowFrom":[]}',
      goacmedns,
    );
    assert.equal(twice.status, 400);
    assert.match(twice.json.message, /field given twice: allowfrom\/AllowFrom/);
    // A list given as a string is not coerced into one (Go's decoder refuses it too).
    const notList = await raw('/register', '{"AllowFrom":"192.0.2.0/24"}', goacmedns);
    assert.deepEqual([notList.status, notList.json.error], [400, 'invalid_allowfrom_cidr']);
  });

  it('stores only a slow hash of the password', async () => {
    const r = (await call(run, 'POST', '/register', {})).json as Registration;
    const stored = await run.cirrus.repos.acme.getDnsAccount(r.username);
    assert.ok(stored);
    assert.match(stored.passwordHash, /^scrypt\$16384\$8\$1\$/);
    assert.ok(!stored.passwordHash.includes(r.password));
  });

  it('a value leaves the zone (and the export) by itself when it expires', async () => {
    const short = await startCirrus({
      zone: { name: 'cdn.example.net' },
      acme: { txtLifetimeSec: 3, txtTtl: 15, issuer: { enabled: false } },
    });
    try {
      await expires(short);
    } finally {
      await short.stop();
    }
  });
});

/** A value written to a server with a 3 s lifetime is gone from DNS and the export after it. */
async function expires(run: RunningCirrus): Promise<void> {
  const r = (await call(run, 'POST', '/register', {})).json as Registration;
  await call(run, 'POST', '/update', { subdomain: r.subdomain, txt: DIGEST_B }, creds(r));
  assert.deepEqual(await txtAt(run, r.fulldomain), [DIGEST_B]);
  const serial = (await api(run, 'GET', '/healthz')).json.serial as number;
  await sleep(3600);
  assert.deepEqual(await txtAt(run, r.fulldomain), [], 'expired after txtLifetimeSec');
  const zone = (await api(run, 'GET', '/api/v1/zone')).json as string;
  assert.ok(!zone.includes(DIGEST_B));
  assert.notEqual((await api(run, 'GET', '/healthz')).json.serial, serial);
}
