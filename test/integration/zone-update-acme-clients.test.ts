// The ACME clients' RFC 2136 plugins against Cirrus's static-zone UPDATE, each issuing a real
// certificate from a real pebble CA that checks the TXT record through Cirrus: Debian's
// `lego --dns rfc2136` and `certbot certonly --dns-rfc2136` (python3-certbot-dns-rfc2136).
// The key is scoped to `*.apps.<zone>` TXT only; each client creates the challenge TXT and
// removes it again, which the zone then shows.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCirrus, type RunningCirrus } from '../helpers/cirrus.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { dig } from '../helpers/dig.js';

const ZONE = 'cdn.example.net';
const APPS = `apps.${ZONE}`;
const SECRET = randomBytes(32).toString('base64');

function runTool(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, timeout: 180000, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          output: stdout + stderr,
        }),
    );
  });
}

async function subjectOf(pem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], (err, out) =>
      err ? reject(err) : resolve(out),
    );
    child.stdin?.end(pem);
  });
}

describe('ACME clients publish DNS-01 challenges by RFC 2136 UPDATE (lego, certbot, pebble)', () => {
  let run: RunningCirrus;
  let pebble: Pebble;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-rfc2136-clients-'));
    run = await startCirrus({
      zone: { name: ZONE },
      acme: { issuer: { enabled: false } },
      xfr: {
        keys: [
          {
            name: 'acme-clients',
            algorithm: 'hmac-sha256',
            secret: SECRET,
            update: { names: [`*.${APPS}`], types: ['TXT'], transfer: false },
          },
        ],
      },
    });
    pebble = await startPebble(run.dnsPort);
  });
  after(async () => {
    await pebble?.stop();
    await run?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const challenge = async (name: string) =>
    (await dig(run.dnsPort, [`_acme-challenge.${name}`, 'TXT'])).answer;

  it('lego --dns rfc2136 obtains a certificate', async () => {
    const name = `lego.${APPS}`;
    const res = await runTool(
      'lego',
      [
        '--server',
        pebble.directory,
        '--accept-tos',
        '--email',
        'ops@example.org',
        '--path',
        join(dir, 'lego'),
        '--domains',
        name,
        '--dns',
        'rfc2136',
        // Zone discovery (SOA) through Cirrus only; pebble is the one that checks the TXT.
        '--dns.resolvers',
        `127.0.0.1:${run.dnsPort}`,
        '--dns.disable-cp',
        'run',
      ],
      {
        LEGO_CA_CERTIFICATES: pebble.caFile,
        RFC2136_NAMESERVER: `127.0.0.1:${run.dnsPort}`,
        RFC2136_TSIG_KEY: 'acme-clients.',
        RFC2136_TSIG_SECRET: SECRET,
        RFC2136_TSIG_ALGORITHM: 'hmac-sha256.',
        RFC2136_PROPAGATION_TIMEOUT: '30',
        RFC2136_POLLING_INTERVAL: '1',
      },
    );
    assert.equal(res.code, 0, `${res.output}\n--- pebble:\n${pebble.log()}`);
    const pem = readFileSync(join(dir, 'lego', 'certificates', `${name}.crt`), 'utf8');
    assert.match(await subjectOf(pem), new RegExp(`DNS:${name.replace(/\./g, '\\.')}`));
    // The cleanup step removed the challenge again.
    assert.deepEqual(await challenge(name), []);
  });

  it('certbot certonly --dns-rfc2136 obtains a certificate', async () => {
    const name = `certbot.${APPS}`;
    const ini = join(dir, 'rfc2136.ini');
    writeFileSync(
      ini,
      [
        'dns_rfc2136_server = 127.0.0.1',
        `dns_rfc2136_port = ${run.dnsPort}`,
        'dns_rfc2136_name = acme-clients',
        `dns_rfc2136_secret = ${SECRET}`,
        'dns_rfc2136_algorithm = HMAC-SHA256',
        '',
      ].join('\n'),
    );
    chmodSync(ini, 0o600);
    const res = await runTool(
      'certbot',
      [
        'certonly',
        '--non-interactive',
        '--agree-tos',
        '--register-unsafely-without-email',
        '--server',
        pebble.directory,
        '--config-dir',
        join(dir, 'certbot', 'config'),
        '--work-dir',
        join(dir, 'certbot', 'work'),
        '--logs-dir',
        join(dir, 'certbot', 'logs'),
        '--dns-rfc2136',
        '--dns-rfc2136-credentials',
        ini,
        '--dns-rfc2136-propagation-seconds',
        '1',
        '-d',
        name,
      ],
      { REQUESTS_CA_BUNDLE: pebble.caFile },
    );
    assert.equal(res.code, 0, `${res.output}\n--- pebble:\n${pebble.log()}`);
    const live = join(dir, 'certbot', 'config', 'live', name, 'cert.pem');
    assert.ok(existsSync(live), res.output);
    assert.match(
      await subjectOf(readFileSync(live, 'utf8')),
      new RegExp(`DNS:${name.replace(/\./g, '\\.')}`),
    );
    assert.deepEqual(await challenge(name), []);
  });
});
