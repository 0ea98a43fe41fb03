// Signed transfers to a real NSD 4 secondary (Debian nsd) from a Cirrus with DNSSEC on:
// NSD serves the signed static view (RRSIGs, NSEC chain, DNSKEY/CDS/CDNSKEY) and `delv`,
// anchored at Cirrus's DNSKEY, validates positive, wildcard, NODATA and NXDOMAIN answers
// *from NSD*; `ldns-verify-zone` accepts the zone export and an AXFR (and rejects them with
// one record altered); an API write reaches NSD as a small IXFR that still validates; and
// the re-signing period moves the serial by itself (the snapshot's expiry timer), NOTIFY
// and IXFR replace the signatures that came due, and NSD never holds a signature with less
// than refreshDays/2 left. The builds' clock starts in the past so that a re-signing period
// arrives within the test (the manager's `now`); validation runs on the real clock. A
// restarted Cirrus keeps the signatures NSD holds; `cirrus zone export` prints the signed
// zone from a state file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '../helpers/wait.js';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';
import { startNsd, type NsdServer } from '../helpers/nsd.js';
import { freePort } from '../helpers/redis-server.js';
import { repos } from '../helpers/repos.js';
import { nsdConfig } from '../../src/xfr/nsd-config.js';
import { Peers } from '../../src/xfr/peers.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { ensureZoneKey } from '../../src/dnssec/key-repository.js';

const run = promisify(execFile);
const ZONE = 'cdn.example.net';
const SECRET = randomBytes(32).toString('base64');
const KEY = `hmac-sha256:xfr-key:${SECRET}`;
const DAY = 86_400_000;
// One re-signing period is refreshDays/2 = 12 h; a signature lives validityDays = 2 days.
const DNSSEC = {
  enabled: true,
  validityDays: 2,
  refreshDays: 1,
  jitterHours: 0,
  inceptionOffsetSeconds: 3600,
};
const PERIOD = (DNSSEC.refreshDays * DAY) / 2;

/** delv straight at `port`, anchored at the zone's DNSKEY: what it says about name/type. */
async function delv(
  anchors: string,
  port: number,
  name: string,
  type: string,
): Promise<{ verdict: 'positive' | 'negative' | 'failed'; out: string }> {
  const { stdout, stderr } = await run(
    'delv',
    ['@127.0.0.1', '-p', String(port), '-a', anchors, `+root=${ZONE}`, name, type],
    { timeout: 20_000 },
  ).catch((err: { stdout?: string; stderr?: string }) => ({
    stdout: err.stdout ?? '',
    stderr: err.stderr ?? '',
  }));
  const out = stdout + stderr;
  // delv exits 0 whatever it concludes: its verdict is the first comment line.
  if (/^; fully validated/m.test(stdout)) return { verdict: 'positive', out };
  if (/^; negative response, fully validated/m.test(stdout)) return { verdict: 'negative', out };
  return { verdict: 'failed', out };
}

/** ldns-verify-zone on zone text: [exit code, output]. */
async function verifyZone(dir: string, text: string, name: string): Promise<[number, string]> {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    const { stdout, stderr } = await run('ldns-verify-zone', [file], { timeout: 60_000 });
    return [0, stdout + stderr];
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return [e.code ?? -1, (e.stdout ?? '') + (e.stderr ?? '')];
  }
}

/** RRSIG lines of dig output (less those over the SOA unless `soa`): their expirations (s). */
function expirations(lines: readonly string[], soa: boolean): number[] {
  return lines
    .filter((l) => l.split(' ')[3] === 'RRSIG' && (soa || l.split(' ')[4] !== 'SOA'))
    .map((l) => {
      const t = l.split(' ')[8] as string;
      return (
        Date.UTC(
          Number(t.slice(0, 4)),
          Number(t.slice(4, 6)) - 1,
          Number(t.slice(6, 8)),
          Number(t.slice(8, 10)),
          Number(t.slice(10, 12)),
          Number(t.slice(12, 14)),
        ) / 1000
      );
    });
}

describe('signed transfers: Cirrus with DNSSEC → real NSD secondary, validated by delv', () => {
  let cirrus: RunningCirrus;
  let nsd: NsdServer;
  let dir: string;
  let anchors: string;
  let store: EmbeddedStore;
  let nsdPort: number;
  const options = () => ({
    dnssec: DNSSEC,
    xfr: {
      keys: [{ name: 'xfr-key', algorithm: 'hmac-sha256' as const, secret: SECRET }],
      secondaries: [{ name: 'nsd1', address: '127.0.0.1', port: nsdPort, key: 'xfr-key' }],
      notifyRetryMs: 100,
      notifyMaxRetryMs: 500,
      pollIntervalMs: 200,
    },
  });
  // The builds' clock: 1.75 days behind, moved forward by the re-signing test.
  let offset = -1.75 * DAY;
  const clock = () => Date.now() + offset;

  const soaSerial = async (port: number): Promise<number | undefined> => {
    const r = await dig(port, ['+norec', ZONE, 'SOA']);
    const soa = r.answer.find((l) => l.includes(' SOA '));
    return soa ? Number(soa.split(' ')[6]) : undefined;
  };
  const nsdServes = (serial: number) =>
    eventually(`NSD to serve serial ${serial}`, 15_000, async () =>
      (await soaSerial(nsd.port)) === serial ? true : undefined,
    );
  const lastTransfer = async () =>
    (await api(cirrus, 'GET', '/api/v1/secondaries')).json.secondaries[0].lastTransfer;
  /** The expirations of the RRSIGs NSD answers the questions with. */
  const nsdSignatures = async (
    questions: readonly [string, string][],
    soa = true,
  ): Promise<number[]> => {
    const all: number[] = [];
    for (const [name, type] of questions) {
      const r = await dig(nsd.port, ['+norec', '+dnssec', name, type]);
      all.push(...expirations([...r.answer, ...r.authority], soa));
    }
    return all;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-dnssec-xfr-'));
    store = new EmbeddedStore();
    // The key exists from the builds' (past) start, as the server would have made it then.
    await ensureZoneKey(repos(store).dnssec, ZONE, 13, clock());
    nsdPort = await freePort();
    cirrus = await startCirrus(options(), store, clock);
    assert.equal(
      (
        await api(cirrus, 'PUT', '/api/v1/nodes', [
          { id: 'fra-1', ipv4: '192.0.2.11', ipv6: '2001:db8:1::11', pool: 'fra' },
          { id: 'iad-1', ipv4: '192.0.2.31', pool: 'iad' },
        ])
      ).status,
      200,
    );
    for (const d of ['www.example.com', 'static.example.org'])
      assert.equal(
        (
          await api(cirrus, 'POST', '/api/v1/domains', {
            domain: d,
            origins: [{ address: '203.0.113.9' }],
          })
        ).status,
        201,
      );
    const zoneText = [
      'www 300 IN CNAME www-example-com',
      'txt 60 IN TXT "hello" "world"',
      '*.wild 300 IN TXT "wildcard"',
      // A signed delegation: NS unsigned, DS signed, glue unsigned and outside the chain.
      'sub 300 IN NS ns.sub',
      `sub 300 IN DS 12345 13 2 ${'ab'.repeat(32)}`,
      'ns.sub 300 IN A 192.0.2.53',
      // An unsigned delegation: the NSEC at the cut proves there is no DS.
      'insecure 300 IN NS ns.example.org.',
    ].join('\n');
    assert.equal((await api(cirrus, 'PUT', '/api/v1/zone/records', zoneText + '\n')).status, 200);
    const config = cirrus.config;
    nsd = await startNsd(
      (_port, serverSettings) =>
        nsdConfig(config, new Peers(config.xfr, null), {
          secondary: 'nsd1',
          master: `127.0.0.1@${cirrus.dnsPort}`,
          serverSettings,
        }),
      nsdPort,
    );
    const dnskey = await dig(cirrus.dnsPort, ['+norec', ZONE, 'DNSKEY']);
    const key = dnskey.answer.map((l) => l.split(' ')).find((f) => f[4] === '257');
    assert.ok(key, `no DNSKEY 257 at Cirrus: ${dnskey.raw}`);
    anchors = join(dir, 'anchors.conf');
    writeFileSync(
      anchors,
      `trust-anchors {\n  ${ZONE}. static-key 257 3 ${key[6]} "${key.slice(7).join('')}";\n};\n`,
    );
  });

  after(async () => {
    await cirrus?.stop();
    await nsd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('NSD transfers the signed zone: DNSKEY, CDS, CDNSKEY, RRSIGs and the NSEC chain', async () => {
    await nsdServes(cirrus.cirrus.snapshots.current.serial);
    const apex = await dig(nsd.port, ['+norec', '+dnssec', ZONE, 'DNSKEY']);
    assert.equal(apex.status, 'NOERROR');
    assert.ok(
      apex.answer.some((l) => / DNSKEY 257 3 13 /.test(l)),
      apex.raw,
    );
    assert.ok(
      apex.answer.some((l) => / RRSIG DNSKEY 13 3 /.test(l)),
      apex.raw,
    );
    for (const t of ['CDS', 'CDNSKEY']) {
      const r = await dig(nsd.port, ['+norec', '+dnssec', ZONE, t]);
      assert.ok(
        r.answer.some((l) => l.includes(` RRSIG ${t} `)),
        r.raw,
      );
    }
    // The apex NSEC lists the apex's types.
    const nsec = await dig(nsd.port, ['+norec', ZONE, 'NSEC']);
    assert.match(
      nsec.answer.join('\n'),
      /IN NSEC \S+ NS SOA RRSIG NSEC DNSKEY CDS CDNSKEY$/m,
      nsec.raw,
    );
    // The delegation: NS without RRSIG, DS with it, glue unsigned.
    const ref = await dig(nsd.port, ['+norec', '+dnssec', 'host.sub.cdn.example.net', 'A']);
    assert.ok(
      ref.authority.some((l) => / IN NS ns\.sub\./.test(l)),
      ref.raw,
    );
    assert.ok(!ref.authority.some((l) => / RRSIG NS /.test(l)), ref.raw);
    assert.ok(
      ref.authority.some((l) => / RRSIG DS /.test(l)),
      ref.raw,
    );
    assert.ok(!ref.additional.some((l) => / RRSIG /.test(l)), ref.raw);
    const kind = (await lastTransfer()).kind;
    assert.match(kind, /^(axfr|ixfr-full|ixfr)$/);
    assert.match(nsd.log(), /TSIG verified with key xfr-key/);
  });

  it('delv validates positive, wildcard, NODATA and NXDOMAIN answers from NSD', async () => {
    const cases: Array<[string, string, 'positive' | 'negative']> = [
      ['txt.cdn.example.net', 'TXT', 'positive'],
      ['static-example-org.cdn.example.net', 'A', 'positive'],
      ['static-example-org.cdn.example.net', 'AAAA', 'positive'],
      ['www.cdn.example.net', 'A', 'positive'],
      ['anything.wild.cdn.example.net', 'TXT', 'positive'],
      ['sub.cdn.example.net', 'DS', 'positive'],
      ['txt.cdn.example.net', 'A', 'negative'],
      ['static-example-org.cdn.example.net', 'MX', 'negative'],
      ['insecure.cdn.example.net', 'DS', 'negative'],
      ['wild.cdn.example.net', 'TXT', 'negative'],
      ['nope.cdn.example.net', 'A', 'negative'],
      ['deep.nope.cdn.example.net', 'TXT', 'negative'],
    ];
    for (const [name, type, want] of cases) {
      const got = await delv(anchors, nsd.port, name, type);
      assert.equal(got.verdict, want, `${name} ${type} from NSD:\n${got.out}`);
    }
    // NSD denies with the chain (NXDOMAIN, an NSEC covering the name); Cirrus with compact
    // denial (NOERROR, an NSEC at the name with NXNAME). Both validate.
    const fromNsd = await dig(nsd.port, ['+norec', '+dnssec', 'nope.cdn.example.net', 'A']);
    assert.equal(fromNsd.status, 'NXDOMAIN');
    assert.ok(
      fromNsd.authority.some((l) => / IN NSEC /.test(l)),
      fromNsd.raw,
    );
    const fromCirrus = await dig(cirrus.dnsPort, [
      '+norec',
      '+dnssec',
      'nope.cdn.example.net',
      'A',
    ]);
    assert.equal(fromCirrus.status, 'NOERROR');
    assert.ok(fromCirrus.authority.some((l) => l.startsWith('nope.cdn.example.net. ')));
    const viaCirrus = await delv(anchors, cirrus.dnsPort, 'nope.cdn.example.net', 'A');
    assert.equal(viaCirrus.verdict, 'negative', viaCirrus.out);
    // A wrong anchor fails: the verdicts above are not delv's default.
    const wrong = join(dir, 'wrong.conf');
    const other = randomBytes(64).toString('base64');
    writeFileSync(wrong, `trust-anchors {\n  ${ZONE}. static-key 257 3 13 "${other}";\n};\n`);
    assert.equal((await delv(wrong, nsd.port, 'txt.cdn.example.net', 'TXT')).verdict, 'failed');
  });

  it('ldns-verify-zone accepts the zone export and an AXFR, and rejects either altered', async () => {
    const exported = (await api(cirrus, 'GET', '/api/v1/zone')).json as string;
    assert.match(exported, /\tRRSIG\t/);
    const [ok, out] = await verifyZone(dir, exported, 'export.zone');
    assert.equal(ok, 0, out);
    assert.match(out, /Zone is verified and complete/);
    const altered = exported.replace(
      /(txt\.cdn\.example\.net\.\t60\tIN\tTXT\t)"hello"/,
      '$1"hullo"',
    );
    assert.notEqual(altered, exported);
    const [bad, badOut] = await verifyZone(dir, altered, 'altered.zone');
    assert.notEqual(bad, 0, badOut);
    assert.match(badOut, /Bogus DNSSEC signature for txt\.cdn\.example\.net/);

    const axfr = await dig(cirrus.dnsPort, ['-y', KEY, ZONE, 'AXFR', '+onesoa']);
    const text = axfr.raw
      .split('\n')
      .filter((l) => l && !l.startsWith(';') && !/\sTSIG\s/.test(l))
      .join('\n');
    assert.match(text, /\sNSEC\s/);
    const [axfrOk, axfrOut] = await verifyZone(dir, text + '\n', 'axfr.zone');
    assert.equal(axfrOk, 0, axfrOut);
    // Without one NSEC the chain is broken.
    const broken = text
      .split('\n')
      .filter((l) => !/^txt\.cdn\.example\.net\.\s+\d+\s+IN\s+NSEC\s/.test(l))
      .join('\n');
    const [brokenCode, brokenOut] = await verifyZone(dir, broken + '\n', 'broken.zone');
    assert.notEqual(brokenCode, 0, brokenOut);
  });

  it('an API write reaches NSD as a small IXFR that still validates', async () => {
    const before = cirrus.cirrus.snapshots.current.serial;
    const res = await api(cirrus, 'POST', '/api/v1/domains', {
      domain: 'new.example.net',
      origins: [{ address: '203.0.113.77' }],
    });
    assert.equal(res.status, 201);
    const name = res.json.cname as string;
    const serial = await eventually('a new serial', 5_000, async () => {
      const s = cirrus.cirrus.snapshots.current.serial;
      return s !== before ? s : undefined;
    });
    await nsdServes(serial);
    const t = await lastTransfer();
    assert.equal(t.kind, 'ixfr', JSON.stringify(t));
    // SOAs and their RRSIGs, the new name's RRsets, RRSIGs and NSEC, its predecessor's
    // NSEC and RRSIG replaced: a few dozen records, never the whole signed zone.
    const zoneSize = (await api(cirrus, 'GET', '/api/v1/zone')).json.split('\n').length;
    assert.ok(t.records <= 24, `${t.records} records in the IXFR (zone: ${zoneSize} lines)`);
    for (const type of ['A', 'AAAA']) {
      const got = await delv(anchors, nsd.port, name, type);
      assert.equal(got.verdict, 'positive', `${name} ${type}:\n${got.out}`);
    }
    assert.equal((await delv(anchors, nsd.port, 'txt.cdn.example.net', 'TXT')).verdict, 'positive');
    console.log(`# signed IXFR for one new domain: ${t.records} records`);
  });

  it('the re-signing period bumps the serial; IXFR replaces due signatures; none is served with less than refreshDays/2 left', async () => {
    const names: [string, string][] = [
      [ZONE, 'SOA'],
      [ZONE, 'DNSKEY'],
      ['txt.cdn.example.net', 'TXT'],
      ['static-example-org.cdn.example.net', 'A'],
      ['nope.cdn.example.net', 'A'],
    ];
    const halfRefresh = (DNSSEC.refreshDays * 86_400) / 2;
    const first = await nsdSignatures(names);
    assert.ok(first.length >= names.length);
    for (const e of first) assert.ok(e - clock() / 1000 >= halfRefresh, `expires ${e}`);

    // Jump the builds' clock to 2 s before the first period boundary at which the
    // signatures made 1.75 days ago have less than refreshDays left: a rebuild there (the
    // expiry timer's call) takes a new serial and re-signs them.
    const made = Date.now() + offset;
    const boundary = Math.ceil((made + DNSSEC.refreshDays * DAY + 60_000) / PERIOD) * PERIOD;
    offset = boundary - 2_000 - Date.now();
    const s1 = cirrus.cirrus.snapshots.current.serial;
    cirrus.cirrus.snapshots.schedule();
    const s2 = await eventually('the new period to take a serial', 5_000, async () => {
      const s = cirrus.cirrus.snapshots.current.serial;
      return s !== s1 ? s : undefined;
    });
    await nsdServes(s2);
    const resigned = await lastTransfer();
    assert.equal(resigned.kind, 'ixfr', JSON.stringify(resigned));
    console.log(
      `# signed IXFR at a re-signing period with every signature due: ${resigned.records} records`,
    );
    const second = await nsdSignatures(names);
    for (const e of second) {
      assert.ok(!first.includes(e), 'every signature that came due was replaced');
      assert.ok(e - clock() / 1000 >= DNSSEC.refreshDays * 86_400, `expires ${e}`);
    }

    // The boundary passes 2 s later: the snapshot's own expiry timer rebuilds, with no write.
    const s3 = await eventually('the expiry timer to take a serial', 15_000, async () => {
      const s = cirrus.cirrus.snapshots.current.serial;
      return s !== s2 ? s : undefined;
    });
    await nsdServes(s3);
    const quiet = await lastTransfer();
    assert.equal(quiet.kind, 'ixfr');
    // Nothing came due: the SOA and its RRSIG change, every other signature stays.
    assert.ok(quiet.records <= 8, `${quiet.records} records`);
    console.log(`# signed IXFR at a re-signing period with nothing due: ${quiet.records} records`);
    const third = await nsdSignatures(names, false);
    assert.ok(third.length >= names.length - 1);
    for (const e of third) assert.ok(second.includes(e), 'unchanged signatures are kept');
    for (const [name, type, want] of [
      ['txt.cdn.example.net', 'TXT', 'positive'],
      ['nope.cdn.example.net', 'A', 'negative'],
    ] as const) {
      const got = await delv(anchors, nsd.port, name, type);
      assert.equal(got.verdict, want, `${name} ${type}:\n${got.out}`);
    }
  });

  it('a restarted Cirrus keeps the signatures NSD holds: the next IXFR stays small and validates', async () => {
    const serial = cirrus.cirrus.snapshots.current.serial;
    const port = cirrus.dnsPort;
    /** The RRSIG over txt's TXT as `port` sends it (its signature field). */
    const txtSignature = async (lines: readonly string[]) =>
      lines
        .find((l) => l.startsWith('txt.cdn.example.net. ') && / RRSIG TXT /.test(l))
        ?.split(' ')
        .pop();
    const fromNsd = async () =>
      txtSignature(
        (await dig(nsd.port, ['+norec', '+dnssec', 'txt.cdn.example.net', 'TXT'])).answer,
      );
    const held = await fromNsd();
    assert.ok(held);
    await cirrus.stop();
    cirrus = await startCirrus(
      { ...options(), dns: { listen: [`127.0.0.1:${port}`] } },
      store,
      clock,
    );
    assert.equal(cirrus.cirrus.snapshots.current.serial, serial, 'same content, same serial');
    // A full transfer from the new process sends the stored version: NSD's own records.
    const axfr = await dig(port, ['-y', KEY, ZONE, 'AXFR', '+onesoa']);
    const axfrLines = axfr.raw.split('\n').map((l) => l.replace(/\s+/g, ' '));
    assert.equal(await txtSignature(axfrLines), held);
    const res = await api(cirrus, 'POST', '/api/v1/domains', {
      domain: 'after-restart.example.net',
      origins: [{ address: '203.0.113.78' }],
    });
    assert.equal(res.status, 201);
    const next = await eventually('a new serial', 5_000, async () => {
      const s = cirrus.cirrus.snapshots.current.serial;
      return s !== serial ? s : undefined;
    });
    await nsdServes(next);
    const t = await lastTransfer();
    assert.equal(t.kind, 'ixfr', JSON.stringify(t));
    assert.ok(t.records <= 24, `${t.records} records in the IXFR after a restart`);
    assert.equal(await fromNsd(), held, 'the unchanged RRset kept its signature');
    for (const [name, type] of [
      [res.json.cname as string, 'A'],
      ['txt.cdn.example.net', 'TXT'],
      ['static-example-org.cdn.example.net', 'A'],
    ]) {
      const got = await delv(anchors, nsd.port, name as string, type as string);
      assert.equal(got.verdict, 'positive', `${name} ${type}:\n${got.out}`);
    }
  });
});

describe('`cirrus zone export` with DNSSEC on', () => {
  it('prints the signed zone, at the served serial, that ldns-verify-zone accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cirrus-dnssec-cli-'));
    try {
      const stateFile = join(dir, 'state.json');
      const server = await startCirrus({ dnssec: { enabled: true }, store: { file: stateFile } });
      let serial: number;
      try {
        const put = await api(server, 'PUT', '/api/v1/zone/records', 'txt 60 IN TXT "cli"\n');
        assert.equal(put.status, 200);
        await server.cirrus.snapshots.flush();
        serial = server.cirrus.snapshots.current.serial;
      } finally {
        await server.stop();
      }
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env))
        if (!/^(CIRRUS_CONFIG|REDIS_URL|STATE_FILE|SEED_DIR|LOG_LEVEL|DNSSEC.*)$/.test(k))
          env[k] = v;
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli.ts', 'zone', 'export'],
        {
          cwd: new URL('../../', import.meta.url).pathname,
          env: { ...env, STATE_FILE: stateFile, SEED_DIR: '', LOG_LEVEL: 'silent', DNSSEC: 'on' },
          timeout: 60_000,
        },
      );
      assert.match(stdout, new RegExp(`^; zone ${ZONE}\\. serial ${serial}\\n`));
      for (const type of ['DNSKEY', 'CDS', 'CDNSKEY', 'RRSIG', 'NSEC'])
        assert.match(stdout, new RegExp(`\\tIN\\t${type}\\t`), type);
      const [code, out] = await verifyZone(dir, stdout, 'cli.zone');
      assert.equal(code, 0, out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
