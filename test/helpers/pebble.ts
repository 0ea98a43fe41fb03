// A real Debian `pebble` ACME CA for integration tests (see the pebble recipe): its own
// HTTPS certificate made with openssl, free loopback ports, challenge lookups through the
// given DNS server only (-dnsserver), and no random sleeps, nonce rejections or authz reuse.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

export interface Pebble {
  directory: string;
  /** PEM of the CA that signed pebble's HTTPS certificate: what ACME clients must trust. */
  caFile: string;
  /** The root that signs issued certificates (new on every start). */
  root(): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

function fetchText(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: new Agent({ ca }) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

async function makeCertificates(dir: string): Promise<void> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  await o([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'wfe-ca.key',
    '-out',
    'wfe-ca.pem',
    '-days',
    '30',
    '-subj',
    '/CN=pebble WFE test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await o([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'wfe.key',
    '-out',
    'wfe.csr',
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(
    join(dir, 'wfe.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  await o([
    'x509',
    '-req',
    '-in',
    'wfe.csr',
    '-CA',
    'wfe-ca.pem',
    '-CAkey',
    'wfe-ca.key',
    '-CAcreateserial',
    '-out',
    'wfe.pem',
    '-days',
    '30',
    '-extfile',
    'wfe.ext',
  ]);
}

export async function startPebble(dnsPort: number): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'cirrus-pebble-'));
  await makeCertificates(dir);
  const [acmePort, mgmtPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'pebble-config.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: 'wfe.pem',
        privateKey: 'wfe.key',
        httpPort: 5002,
        tlsPort: 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  let output = '';
  const child: ChildProcess = spawn(
    'pebble',
    ['-config', 'pebble-config.json', '-dnsserver', `127.0.0.1:${dnsPort}`],
    {
      cwd: dir,
      env: {
        ...process.env,
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        PEBBLE_AUTHZREUSE: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const caFile = join(dir, 'wfe-ca.pem');
  const ca = readFileSync(caFile, 'utf8');
  const directory = `https://127.0.0.1:${acmePort}/dir`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    const up = await fetchText(directory, ca).catch(() => undefined);
    if (up?.status === 200) {
      return {
        directory,
        caFile,
        root: async () => (await fetchText(`https://127.0.0.1:${mgmtPort}/roots/0`, ca)).body,
        log: () => output,
        stop,
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`pebble did not start:\n${output}`);
}
