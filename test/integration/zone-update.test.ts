// RFC 2136 UPDATE of the static zone with the real clients: BIND's `nsupdate` and Knot's
// `knsupdate`, TSIG-signed with a scoped key, read back with real `dig` (queries, AXFR and
// IXFR signed with the same key). Prerequisites (RFC 2136 §2.4) through nsupdate's `prereq`
// lines, whole-message atomicity, scope refusals, CNAME exclusivity, the serial, the IXFR
// journal and the NOTIFY a secondary receives.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { execFile } from 'node:child_process';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { nsupdate } from '../helpers/nsupdate.js';
import { eventually } from '../helpers/wait.js';

const ZONE = 'cdn.example.net';
const APPS = `apps.${ZONE}`;
const SECRET = randomBytes(32).toString('base64');
const NOSCOPE_SECRET = randomBytes(32).toString('base64');
const ACME_SECRET = randomBytes(32).toString('base64');
const KEY = `hmac-sha256:ext-dns:${SECRET}`;

describe('RFC 2136 UPDATE of the static zone (nsupdate, knsupdate, dig)', () => {
  let run: RunningCirrus;
  let secondary: Socket;
  const notifies: number[] = [];

  const send = (lines: string[], key: string | null = KEY) =>
    nsupdate(key ? ['-y', key] : [], [`server 127.0.0.1 ${run.dnsPort}`, ...lines, 'send']);
  const answer = async (name: string, type: string) =>
    (await dig(run.dnsPort, [name, type])).answer.sort();
  const serial = () => run.cirrus.snapshots.current.serial;

  before(async () => {
    // A stand-in secondary: acknowledges every NOTIFY (RFC 1996 §4.7) and counts them.
    secondary = createSocket('udp4');
    secondary.on('message', (msg, rinfo) => {
      const opcode = ((msg[2] as number) >> 3) & 0x0f;
      if (opcode === 4) notifies.push(msg.readUInt16BE(0));
      const reply = Buffer.from(msg.subarray(0, 12));
      reply[2] = (reply[2] as number) | 0x80;
      reply.writeUInt16BE(0, 4);
      reply.writeUInt16BE(0, 6);
      reply.writeUInt16BE(0, 8);
      reply.writeUInt16BE(0, 10);
      secondary.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => secondary.bind(0, '127.0.0.1', r));
    run = await startCirrus({
      zone: { name: ZONE },
      acme: {
        issuer: { enabled: false },
        update: { keys: [{ key: 'acme-key', domains: ['app.example.com'] }] },
      },
      xfr: {
        keys: [
          {
            name: 'ext-dns',
            algorithm: 'hmac-sha256',
            secret: SECRET,
            update: {
              names: [`*.${APPS}`, `www.${ZONE}`],
              types: ['A', 'AAAA', 'CNAME', 'TXT'],
              transfer: true,
            },
          },
          { name: 'no-scope', algorithm: 'hmac-sha256', secret: NOSCOPE_SECRET },
          { name: 'acme-key', algorithm: 'hmac-sha256', secret: ACME_SECRET },
        ],
        secondaries: [
          {
            name: 'sec',
            address: '127.0.0.1',
            port: secondary.address().port,
            // Its own key: the address alone transfers nothing, the scoped key does.
            key: 'no-scope',
            notify: true,
          },
        ],
      },
    });
    // The operator's own records stay beside the dynamic ones.
    const put = await api(run, 'PUT', '/api/v1/zone/records', `mail 300 IN MX 10 mx.${ZONE}.\n`);
    assert.equal(put.status, 200, JSON.stringify(put.json));
  });
  after(async () => {
    await run?.stop();
    secondary?.close();
  });

  it('adds records with the TTL the client sends; the serial moves and a NOTIFY goes out', async () => {
    const before = serial();
    const sent = notifies.length;
    const res = await send([
      `zone ${ZONE}`,
      `update add web.${APPS} 123 A 192.0.2.1`,
      `update add web.${APPS} 123 A 192.0.2.2`,
      `update add web.${APPS} 45 TXT "owner=team-a"`,
    ]);
    assert.equal(res.code, 0, res.output);
    assert.deepEqual(await answer(`web.${APPS}`, 'A'), [
      `web.${APPS}. 123 IN A 192.0.2.1`,
      `web.${APPS}. 123 IN A 192.0.2.2`,
    ]);
    assert.deepEqual(await answer(`web.${APPS}`, 'TXT'), [`web.${APPS}. 45 IN TXT "owner=team-a"`]);
    assert.ok(serial() > before, `serial ${serial()} after ${before}`);
    await eventually('a NOTIFY', 10000, async () => (notifies.length > sent ? true : undefined));
  });

  it('reads the zone back by AXFR with the same key, and the change by IXFR', async () => {
    const from = serial();
    const res = await send([`update add api.${APPS} 60 AAAA 2001:db8::7`]);
    assert.equal(res.code, 0, res.output);
    const axfr = await dig(run.dnsPort, ['-y', KEY, ZONE, 'AXFR']);
    const names = axfr.raw;
    assert.match(
      names,
      new RegExp(`api\\.${APPS.replace(/\./g, '\\.')}\\.\\s+60\\s+IN\\s+AAAA\\s+2001:db8::7`),
    );
    assert.match(names, /mail\.cdn\.example\.net\.\s+300\s+IN\s+MX\s+10 mx\.cdn\.example\.net\./);
    assert.match(names, /TSIG/);
    // The journal holds the step from `from`: the IXFR carries only the addition.
    const ixfr = await dig(run.dnsPort, ['-y', KEY, ZONE, `IXFR=${from}`]);
    const body = ixfr.raw.split('\n').filter((l) => /\sIN\s/.test(l) && !l.startsWith(';'));
    const soas = body.filter((l) => /\sSOA\s/.test(l));
    assert.equal(soas.length, 4, ixfr.raw);
    assert.ok(
      body.some((l) => /api\.apps\.cdn\.example\.net\.\s+60\s+IN\s+AAAA/.test(l)),
      ixfr.raw,
    );
    assert.ok(!body.some((l) => /\sMX\s/.test(l)), 'IXFR sends the difference only');
    // Unsigned or with a key without a transfer right: no transfer.
    const unsigned = await dig(run.dnsPort, [ZONE, 'AXFR']);
    assert.match(unsigned.raw, /Transfer failed|REFUSED/);
    const other = await dig(run.dnsPort, [
      '-y',
      `hmac-sha256:acme-key:${ACME_SECRET}`,
      ZONE,
      'AXFR',
    ]);
    assert.match(other.raw, /Transfer failed|REFUSED/);
  });

  it('replaces an RRset as clients do it (delete RRset + add) and deletes single records', async () => {
    const res = await send([
      `update delete web.${APPS} A`,
      `update add web.${APPS} 300 A 198.51.100.9`,
    ]);
    assert.equal(res.code, 0, res.output);
    assert.deepEqual(await answer(`web.${APPS}`, 'A'), [`web.${APPS}. 300 IN A 198.51.100.9`]);
    const one = await send([`update delete web.${APPS} TXT "owner=team-a"`]);
    assert.equal(one.code, 0, one.output);
    assert.deepEqual(await answer(`web.${APPS}`, 'TXT'), []);
  });

  it('checks every kind of prerequisite with nsupdate prereq lines', async () => {
    const cases: Array<[string, string | null]> = [
      [`prereq yxdomain web.${APPS}`, null],
      [`prereq nxdomain web.${APPS}`, 'YXDOMAIN'],
      [`prereq nxdomain nothing.${APPS}`, null],
      [`prereq yxdomain nothing.${APPS}`, 'NXDOMAIN'],
      [`prereq yxrrset web.${APPS} A`, null],
      [`prereq yxrrset web.${APPS} AAAA`, 'NXRRSET'],
      [`prereq nxrrset web.${APPS} AAAA`, null],
      [`prereq nxrrset web.${APPS} A`, 'YXRRSET'],
      // Value-dependent: the whole RRset must match.
      [`prereq yxrrset web.${APPS} A 198.51.100.9`, null],
      [`prereq yxrrset web.${APPS} A 192.0.2.1`, 'NXRRSET'],
      // Prerequisites see the whole zone: the operator's MX and the config's apex.
      [`prereq yxrrset mail.${ZONE} MX 10 mx.${ZONE}.`, null],
      [`prereq yxrrset ${ZONE} NS`, null],
    ];
    for (const [line, failure] of cases) {
      const res = await send([`zone ${ZONE}`, line, `update add flag.${APPS} 60 TXT "x"`]);
      if (failure === null) assert.equal(res.code, 0, `${line}: ${res.output}`);
      else {
        assert.notEqual(res.code, 0, line);
        assert.match(res.output, new RegExp(`update failed: ${failure}`), line);
      }
      await send([`update delete flag.${APPS} TXT`]);
    }
    // A failed prerequisite applies nothing of the message.
    const res = await send([
      `prereq nxrrset web.${APPS} A`,
      `update add nope.${APPS} 60 A 192.0.2.50`,
    ]);
    assert.match(res.output, /update failed: YXRRSET/);
    assert.deepEqual(await answer(`nope.${APPS}`, 'A'), []);
  });

  it('refuses what the key may not change, and applies nothing of such a message', async () => {
    const domain = await api(run, 'POST', '/api/v1/domains', {
      domain: 'shop.example.com',
      origins: [{ address: '203.0.113.10' }],
    });
    assert.equal(domain.status, 201, JSON.stringify(domain.json));
    const base = domain.json.cname as string;
    const refused: string[][] = [
      [`update add other.${ZONE} 60 A 192.0.2.1`], // outside the key's names
      [`update add mx.${APPS} 60 MX 10 mail.${ZONE}.`], // a type the key may not change
      [`update add ${base} 60 A 192.0.2.1`], // a GSLB base name
      [`update add ${ZONE} 60 NS ns9.example.org.`], // the apex NS set
      [`update delete ${ZONE} SOA`],
      [`update add _acme-challenge.app.example.com.acme.${ZONE} 60 TXT "x"`], // the ACME zone
      // One allowed update does not carry a refused one through.
      [`update add ok.${APPS} 60 A 192.0.2.1`, `update add other.${ZONE} 60 A 192.0.2.1`],
    ];
    for (const lines of refused) {
      const res = await send(['check-names off', `zone ${ZONE}`, ...lines]);
      assert.match(res.output, /update failed: REFUSED/, lines.join('; '));
    }
    assert.deepEqual(await answer(`ok.${APPS}`, 'A'), []);
    // Unsigned, or signed with a key without a scope.
    const unsigned = await send([`zone ${ZONE}`, `update add u.${APPS} 60 A 192.0.2.1`], null);
    assert.match(unsigned.output, /update failed: REFUSED/);
    const noScope = await send(
      [`zone ${ZONE}`, `update add u.${APPS} 60 A 192.0.2.1`],
      `hmac-sha256:no-scope:${NOSCOPE_SECRET}`,
    );
    assert.match(noScope.output, /update failed: REFUSED/);
    // A zone we do not serve.
    const other = await send(['zone example.org', 'update add a.example.org 60 A 192.0.2.1']);
    assert.match(other.output, /update failed: NOTAUTH/);
  });

  it('answers a refusal with EDE Prohibited when the UPDATE has EDNS (dnspython)', async () => {
    // dnspython builds, signs and checks the messages: an independent codec and TSIG.
    const script = [
      'import sys, base64, dns.update, dns.query, dns.tsigkeyring, dns.rcode, dns.edns',
      'port, secret, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]',
      "ring = dns.tsigkeyring.from_text({'ext-dns.': ('hmac-sha256', secret)})",
      "u = dns.update.UpdateMessage('cdn.example.net', keyring=ring, keyname='ext-dns.')",
      "u.add(name, 60, 'A', '192.0.2.77')",
      'u.use_edns(0)',
      "r = dns.query.tcp(u, '127.0.0.1', port=port, timeout=10)",
      'ede = [o for o in r.options if isinstance(o, dns.edns.EDEOption)]',
      "print(dns.rcode.to_text(r.rcode()), r.edns, ede[0].code if ede else '-', ede[0].text if ede else '-')",
    ].join('\n');
    const py = (name: string) =>
      new Promise<string>((resolve, reject) =>
        execFile(
          // Debian's interpreter, where python3-dnspython installs (not a pyenv python on PATH).
          '/usr/bin/python3',
          ['-c', script, String(run.dnsPort), SECRET, name],
          { timeout: 20000 },
          (err, out, errOut) =>
            err ? reject(new Error(errOut || String(err))) : resolve(out.trim()),
        ),
      );
    assert.match(
      await py(`other.${ZONE}.`),
      /^REFUSED 0 18 other\.cdn\.example\.net A: the key may not change/,
    );
    assert.equal(await py(`edns.${APPS}.`), 'NOERROR 0 - -');
    assert.deepEqual(await answer(`edns.${APPS}`, 'A'), [`edns.${APPS}. 60 IN A 192.0.2.77`]);
  });

  it('keeps a CNAME alone at its name; a CNAME replaces a CNAME', async () => {
    assert.equal((await send([`update add cn.${APPS} 60 CNAME web.${APPS}.`])).code, 0);
    // Other data at the CNAME is ignored (RFC 2136 §3.4.2.2): NOERROR, nothing added.
    assert.equal((await send([`update add cn.${APPS} 60 A 192.0.2.1`])).code, 0);
    assert.deepEqual(await answer(`cn.${APPS}`, 'A'), [
      `cn.${APPS}. 60 IN CNAME web.${APPS}.`,
      `web.${APPS}. 300 IN A 198.51.100.9`,
    ]);
    assert.equal((await send([`update add cn.${APPS} 90 CNAME api.${APPS}.`])).code, 0);
    assert.deepEqual(await answer(`cn.${APPS}`, 'CNAME'), [`cn.${APPS}. 90 IN CNAME api.${APPS}.`]);
    // A CNAME beside other data is ignored.
    assert.equal((await send([`update add web.${APPS} 60 CNAME api.${APPS}.`])).code, 0);
    assert.deepEqual(await answer(`web.${APPS}`, 'CNAME'), []);
  });

  it('deletes a whole name, and leaves the operator records and ACME updates as they were', async () => {
    assert.equal((await send([`update delete cn.${APPS}`])).code, 0);
    assert.equal((await dig(run.dnsPort, [`cn.${APPS}`, 'A'])).status, 'NXDOMAIN');
    assert.deepEqual(await answer(`mail.${ZONE}`, 'MX'), [
      `mail.${ZONE}. 300 IN MX 10 mx.${ZONE}.`,
    ]);
    const owner = `_acme-challenge.app.example.com.acme.${ZONE}`;
    const acme = await send(
      [`zone ${ZONE}`, `update add ${owner} 60 TXT "challenge"`],
      `hmac-sha256:acme-key:${ACME_SECRET}`,
    );
    assert.equal(acme.code, 0, acme.output);
    assert.equal((await answer(owner, 'TXT')).length, 1);
  });

  it('knsupdate adds and deletes with the same key', async () => {
    const knsupdate = (cmds: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = execFile('knsupdate', ['-y', KEY], { timeout: 15000 }, (err, so, se) =>
          resolve({ code: err ? 1 : 0, out: so + se }),
        );
        child.stdin?.end(
          [`server 127.0.0.1 ${run.dnsPort}`, `zone ${ZONE}.`, ...cmds, 'send', ''].join('\n'),
        );
      });
    const add = await knsupdate([`update add k.${APPS}. 77 AAAA 2001:db8::77`]);
    assert.equal(add.code, 0, add.out);
    assert.deepEqual(await answer(`k.${APPS}`, 'AAAA'), [`k.${APPS}. 77 IN AAAA 2001:db8::77`]);
    const failed = await knsupdate([
      `prereq nxdomain k.${APPS}.`,
      `update add k2.${APPS}. 60 A 192.0.2.3`,
    ]);
    assert.match(failed.out, /YXDOMAIN/);
    const del = await knsupdate([`update delete k.${APPS}. AAAA`]);
    assert.equal(del.code, 0, del.out);
    assert.deepEqual(await answer(`k.${APPS}`, 'AAAA'), []);
  });

  it('takes keys with a scope through the API at once; a bad scope is a 400 naming the field', async () => {
    const secret = randomBytes(32).toString('base64');
    const bad = await api(run, 'PUT', '/api/v1/tsig-keys/team-b', {
      algorithm: 'hmac-sha256',
      secret,
      update: { names: ['*.team-b.example.org'], types: ['A'] },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /body\.update\.names\[0\]/);
    const badType = await api(run, 'PUT', '/api/v1/tsig-keys/team-b', {
      algorithm: 'hmac-sha256',
      secret,
      update: { names: [`*.team-b.${ZONE}`], types: ['SOA'] },
    });
    assert.equal(badType.status, 400);
    assert.match(badType.json.message, /body\.update\.types\[0\]/);
    const ok = await api(run, 'PUT', '/api/v1/tsig-keys/team-b', {
      algorithm: 'hmac-sha256',
      secret,
      update: { names: [`*.team-b.${ZONE}`], types: ['A'] },
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(ok.json.update, { names: [`*.team-b.${ZONE}`], types: ['A'], transfer: true });
    const key = `hmac-sha256:team-b:${secret}`;
    await eventually('the key from the API', 10000, async () => {
      const res = await send([`update add x.team-b.${ZONE} 60 A 192.0.2.4`], key);
      return res.code === 0 ? true : undefined;
    });
    assert.deepEqual(await answer(`x.team-b.${ZONE}`, 'A'), [
      `x.team-b.${ZONE}. 60 IN A 192.0.2.4`,
    ]);
    const outside = await send([`update add x.${APPS} 60 A 192.0.2.4`], key);
    assert.match(outside.output, /update failed: REFUSED/);
  });
});
