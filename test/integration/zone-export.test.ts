// The exported zone (GET /api/v1/zone and `cirrus zone export`) against two independent
// judges: BIND's named-checkzone must load it, at the serial the server hands out over
// DNS, and every base-name record in it must be what dig is answered right now, through
// the edge states that change those answers (all up, one family down, all down).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { api, startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { dig } from '../helpers/dig.js';

const exec = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ZONE = 'cdn.example.net';

const STATIC = [
  'status 300 IN A 192.0.2.1',
  'www CNAME status',
  'mx MX 10 mail',
  'mail AAAA 2001:db8::25',
  '_sip._tcp SRV 0 5 5060 mail',
  'caa CAA 0 issue "letsencrypt.org"',
  '*.wild TXT "hi there" "quote\\"d"',
  '',
].join('\n');

interface Node {
  id: string;
  ipv4?: string;
  ipv6?: string;
  active: boolean;
}
const NODES: Node[] = [
  { id: 'edge-ab', ipv4: '198.51.100.10', ipv6: '2001:db8::10', active: true },
  { id: 'edge-a', ipv4: '198.51.100.11', active: true },
  { id: 'edge-b', ipv4: '198.51.100.12', active: false },
  { id: 'edge-6', ipv6: '2001:db8::16', active: true },
];

/** Exported records as `owner ttl class type rdata` lines, whitespace normalised. */
function recordLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith(';') && !l.startsWith('$'))
    .map((l) => l.replace(/\s+/g, ' ').trim());
}

async function checkzone(text: string, dir: string, name: string): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    const { stdout } = await exec('named-checkzone', [ZONE, file], { timeout: 10_000 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    assert.fail(
      `named-checkzone rejected the export:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${text}`,
    );
  }
}

/** The parent's environment without anything that would point the CLI elsewhere. */
function cliEnv(stateFile: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const ours =
    /^(CIRRUS_CONFIG|CNAME_BASE_DOMAIN|REDIS_URL|STATE_FILE|DNS_LISTEN|API_LISTEN|DNS_NSID|SEED_DIR|LOG_LEVEL|GSLB_TTL)$/;
  for (const [k, v] of Object.entries(process.env)) if (!ours.test(k)) env[k] = v;
  return { ...env, STATE_FILE: stateFile, SEED_DIR: '', LOG_LEVEL: 'silent' };
}

describe('zone export', () => {
  let run: RunningCirrus;
  let dir: string;
  let stateFile: string;
  const bases: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-export-'));
    stateFile = join(dir, 'state.json');
    // Zone, SOA and GSLB settings at their defaults, so the CLI (no config file) computes
    // the same content hash, hence the same serial, from the same state file.
    run = await startCirrus({ store: { file: stateFile } });
    const put = await api(run, 'PUT', '/api/v1/zone/records', STATIC);
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const nodes = await api(
      run,
      'PUT',
      '/api/v1/nodes',
      NODES.map((n) => ({ pool: 'default', weight: 100, ...n })),
    );
    assert.equal(nodes.status, 200, JSON.stringify(nodes.json));
    for (const body of [
      { domain: 'www.example.com', origins: [{ address: '203.0.113.5' }], ttl: 30 },
      {
        domain: 'img.example.org',
        origins: [{ address: '203.0.113.6' }, { address: '2001:db8:ffff::6' }],
        answers: 2,
      },
      // An origin known only by name: with no edge up, the base name CNAMEs to it.
      { domain: 'static.example.net', origins: [{ address: 'origin.example.org' }] },
    ]) {
      const d = await api(run, 'POST', '/api/v1/domains', body);
      assert.equal(d.status, 201, JSON.stringify(d.json));
      bases.push(d.json.cname);
    }
  });

  after(async () => {
    await run?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function servedSerial(): Promise<number> {
    const soa = await dig(run.dnsPort, [ZONE, 'SOA']);
    const serial = Number(soa.answer[0]?.split(' ')[6]);
    assert.ok(serial > 0, soa.raw);
    return serial;
  }

  async function apiExport(): Promise<string> {
    const res = await api(run, 'GET', '/api/v1/zone');
    assert.equal(res.status, 200);
    assert.equal(typeof res.json, 'string');
    return res.json as string;
  }

  /** named-checkzone loads it at the served serial, and its base names match dig. */
  async function assertExportMatchesDns(text: string, label: string): Promise<string[]> {
    const out = await checkzone(text, dir, `${label}.zone`);
    assert.match(out, /\nOK\n?$/, out);
    const loaded = Number(/loaded serial (\d+)/.exec(out)?.[1]);
    assert.equal(loaded, await servedSerial(), `${label}: loaded serial vs served serial`);

    const lines = recordLines(text);
    for (const base of bases) {
      const own = lines.filter((l) => l.startsWith(`${base}. `));
      assert.ok(own.length > 0, `${label}: ${base} is missing from the export`);
      const cname = own.filter((l) => l.split(' ')[3] === 'CNAME');
      if (cname.length) assert.equal(own.length, 1, `${label}: ${base} has a CNAME and other data`);
      for (const type of ['A', 'AAAA']) {
        const r = await dig(run.dnsPort, [base, type]);
        assert.equal(r.status, 'NOERROR');
        const expected = cname.length ? cname : own.filter((l) => l.split(' ')[3] === type);
        assert.deepEqual(
          r.answer.sort(),
          expected.sort(),
          `${label}: ${base} ${type} over DNS vs export`,
        );
      }
    }
    return lines;
  }

  async function setActive(active: (n: Node) => boolean): Promise<void> {
    const res = await api(
      run,
      'PUT',
      '/api/v1/nodes',
      NODES.map((n) => ({ pool: 'default', weight: 100, ...n, active: active(n) })),
    );
    assert.equal(res.status, 200);
  }

  it('exports a zone named-checkzone loads, at the served serial, with every record', async () => {
    const text = await apiExport();
    const lines = await assertExportMatchesDns(text, 'all-up');
    const serial = await servedSerial();
    assert.match(text, new RegExp(`^; zone ${ZONE}\\. serial ${serial}\\n`));
    assert.equal(
      lines[0],
      `${ZONE}. 3600 IN SOA ns1.${ZONE}. hostmaster.${ZONE}. ${serial} 3600 600 1209600 60`,
    );
    for (const want of [
      `${ZONE}. 3600 IN NS ns1.${ZONE}.`,
      `ns1.${ZONE}. 3600 IN A 127.0.0.1`,
      `status.${ZONE}. 300 IN A 192.0.2.1`,
      `www.${ZONE}. 3600 IN CNAME status.${ZONE}.`,
      `mx.${ZONE}. 3600 IN MX 10 mail.${ZONE}.`,
      `_sip._tcp.${ZONE}. 3600 IN SRV 0 5 5060 mail.${ZONE}.`,
      `caa.${ZONE}. 3600 IN CAA 0 issue "letsencrypt.org"`,
      `*.wild.${ZONE}. 3600 IN TXT "hi there" "quote\\"d"`,
    ]) {
      assert.ok(lines.includes(want), `missing: ${want}\n${text}`);
    }
    // Inactive edges never appear; the two-answer domain lists two edges.
    assert.ok(!text.includes('198.51.100.12'));
    assert.equal(lines.filter((l) => l.startsWith(`${bases[1]}. 60 IN A `)).length, 2);
    assert.ok(
      lines.includes(`${bases[0]}. 30 IN AAAA 2001:db8::10`) ||
        lines.includes(`${bases[0]}. 30 IN AAAA 2001:db8::16`),
    );
    // Static records as they are served.
    const mx = await dig(run.dnsPort, [`mx.${ZONE}`, 'MX']);
    assert.deepEqual(mx.answer, [`mx.${ZONE}. 3600 IN MX 10 mail.${ZONE}.`]);
  });

  it('`cirrus zone export` on the server’s state file prints the same zone at the same serial', async () => {
    const served = await servedSerial();
    const { stdout } = await exec(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'zone', 'export'],
      {
        cwd: REPO,
        env: cliEnv(stateFile),
        timeout: 30_000,
      },
    );
    assert.match(stdout, new RegExp(`^; zone ${ZONE}\\. serial ${served}\\n`));
    assert.deepEqual(recordLines(stdout), recordLines(await apiExport()));
    await assertExportMatchesDns(stdout, 'cli');
  });

  // Regression: a domain whose origin is a host name answered CNAME for the family with no
  // edge up and edge addresses for the other, so the name held a CNAME and other data and
  // named-checkzone refused the export ("CNAME and other data").
  it('stays loadable and true to DNS when the IPv4 edges are down', async () => {
    await setActive((n) => !n.ipv4);
    await assertExportMatchesDns(await apiExport(), 'v4-down');
  });

  it('stays loadable and true to DNS when the IPv6 edges are down', async () => {
    await setActive((n) => !n.ipv6);
    await assertExportMatchesDns(await apiExport(), 'v6-down');
  });

  it('shows origin addresses and the origin CNAME when every edge is down', async () => {
    await setActive(() => false);
    const lines = await assertExportMatchesDns(await apiExport(), 'all-down');
    // Failover answers carry the failover TTL (20 s by default).
    assert.ok(lines.includes(`${bases[0]}. 20 IN A 203.0.113.5`), lines.join('\n'));
    assert.ok(lines.includes(`${bases[1]}. 20 IN AAAA 2001:db8:ffff::6`));
    assert.ok(lines.includes(`${bases[2]}. 20 IN CNAME origin.example.org.`));
    // A CNAME owner has no other data: every type is answered with the CNAME.
    for (const type of ['MX', 'TXT', 'CNAME']) {
      const r = await dig(run.dnsPort, [bases[2] as string, type]);
      assert.deepEqual(r.answer, [`${bases[2]}. 20 IN CNAME origin.example.org.`], type);
    }
  });
});
