// The real `cirrus` command as an operator runs it: help, config errors that name their
// field, and a full serve → token create → zone export → SIGTERM → restart cycle on one
// state file, with answers checked by dig and the API over HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/redis-server.js';
import { dig } from '../helpers/dig.js';
import { serialGt } from '../../src/snapshot/serial.js';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { DnssecKeyRepository, ensureZoneKey } from '../../src/dnssec/key-repository.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ZONE = 'cdn.example.net';
const SEEDED = `static-example-org.${ZONE}`;
const SEED_EDGES = new Set(['192.0.2.11', '192.0.2.12', '192.0.2.21', '192.0.2.31']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The parent's environment without anything that would point the CLI elsewhere. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const ours =
    /^(CIRRUS_CONFIG|CNAME_BASE_DOMAIN|REDIS_URL|STATE_FILE|DNS_LISTEN|API_LISTEN|DNS_NSID|SEED_DIR|LOG_LEVEL|GSLB_TTL|DNS_COOKIES)$/;
  for (const [k, v] of Object.entries(process.env)) if (!ours.test(k)) env[k] = v;
  return { ...env, LOG_LEVEL: 'warn', ...extra };
}

const children = new Set<ChildProcess>();

function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: REPO,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess, timeoutMs = 20_000): Promise<Exit> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `cirrus ${child.spawnargs.slice(3).join(' ')} did not exit within ${timeoutMs} ms:\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // 'close' follows once the pipes are drained.
      child.once('close', () => resolve({ code, signal, stdout, stderr }));
      if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false)
        resolve({ code, signal, stdout, stderr });
    });
  });
}

const runCli = (args: string[], env: Record<string, string> = {}) => collect(spawnCli(args, env));

after(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('cirrus --help', () => {
  it('lists the commands and exits 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ['cirrus serve', 'cirrus token create', 'cirrus zone export'])
      assert.ok(r.stdout.includes(cmd), `help lacks ${cmd}:\n${r.stdout}`);
  });

  it('`zone export` on a memory-only store prints what a server with the seed would serve (regression: it printed an empty zone)', async () => {
    const r = await runCli(['zone', 'export'], { SEED_DIR: 'zones', STATE_FILE: '' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^static-example-org\.cdn\.example\.net\.\s+60\s+IN\s+A\s+/m);
    assert.match(r.stdout, /^status\.cdn\.example\.net\.\s+300\s+IN\s+A\s+198\.51\.100\.10$/m);
  });

  it('refuses an unknown command with a non-zero exit', async () => {
    const r = await runCli(['frobnicate']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown command: frobnicate/);
  });

  it('prints STORE_UNAVAILABLE and the reason, and exits 1, when Redis is unreachable', async () => {
    const port = await freePort();
    const r = await runCli(['snapshot', 'release'], { REDIS_URL: `redis://127.0.0.1:${port}` });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^cirrus: STORE_UNAVAILABLE: cannot connect to Redis at redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`,
        'm',
      ),
    );
  });

  it('`cookies rotate` stores a new secret and keeps the last one as previous', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cirrus-cli-cookies-'));
    try {
      const file = join(dir, 'state.json');
      const secrets = () =>
        JSON.parse(JSON.parse(readFileSync(file, 'utf8')).strings['cdn:meta:cookie-secrets']) as {
          current: string;
          previous?: string;
        };
      const first = await runCli(['cookies', 'rotate'], { STATE_FILE: file });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /dns cookie secrets rotated at \d{4}-/);
      const one = secrets();
      assert.match(one.current, /^[0-9a-f]{32}$/);
      assert.equal((await runCli(['cookies', 'rotate'], { STATE_FILE: file })).code, 0);
      const two = secrets();
      assert.equal(two.previous, one.current);
      assert.notEqual(two.current, one.current);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cirrus dnssec', () => {
  it('`keys`, `ds`, `rollover` (twice: refused) and `rollover complete` (refused before activation) on a state file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cirrus-cli-dnssec-'));
    try {
      const file = join(dir, 'state.json');
      // The zone's first key, as `cirrus serve` with DNSSEC=on creates it.
      const store = new EmbeddedStore({ file, writeDelayMs: 0 });
      await store.start();
      const { keys } = await ensureZoneKey(new DnssecKeyRepository(store), ZONE, 13);
      await store.stop();
      const tag = keys[0]?.id.split('-')[0];
      const env = { STATE_FILE: file, SEED_DIR: '', DNSSEC: 'on' };

      const listed = await runCli(['dnssec', 'keys'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^zone cdn\.example\.net: rollover idle$/m);
      assert.match(
        listed.stdout,
        new RegExp(`^key ${tag}-\\d+ tag ${tag} ecdsap256sha256 active \\(parent DS\\)`, 'm'),
      );
      assert.match(listed.stdout, /^ {2}cdn\.example\.net\.\t3600\tIN\tDNSKEY\t257 3 13 /m);
      assert.doesNotMatch(listed.stdout, /PRIVATE KEY/);

      const ds = await runCli(['dnssec', 'ds'], env);
      assert.equal(ds.code, 0, ds.stderr);
      assert.match(
        ds.stdout,
        new RegExp(`^cdn\\.example\\.net\\.\\tIN\\tDS\\t${tag} 13 2 [0-9A-F]{64}\\n$`),
      );

      const alg = await runCli(['dnssec', 'rollover', '--algorithm', 'ed25519'], env);
      assert.equal(alg.code, 1);
      assert.match(alg.stderr, /algorithm rollover .* not supported.*\(field: algorithm\)/);

      const begun = await runCli(['dnssec', 'rollover'], env);
      assert.equal(begun.code, 0, begun.stderr);
      assert.match(
        begun.stdout,
        /^zone cdn\.example\.net: rollover pre-publication, next: activate of \d+-\d+ at /m,
      );
      assert.equal(begun.stdout.match(/^key /gm)?.length, 2);

      const twice = await runCli(['dnssec', 'rollover'], env);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /^cirrus: a key rollover is in progress \(pre-publication/m);
      const early = await runCli(['dnssec', 'rollover', 'complete'], env);
      assert.equal(early.code, 1);
      assert.match(early.stderr, /signs from .* only from then/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cirrus serve with a bad configuration', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-cli-cfg-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Listen addresses that would work, so only the field under test is wrong.
  const env = () => ({
    STATE_FILE: join(dir, 'state.json'),
    SEED_DIR: '',
    DNS_LISTEN: '127.0.0.1:0',
    API_LISTEN: '127.0.0.1:0',
  });

  it('names dns.udpSize from a YAML file', async () => {
    const file = join(dir, 'udp.yaml');
    writeFileSync(file, 'dns:\n  udpSize: 100\n');
    const r = await runCli(['serve', '--config', file], env());
    assert.notEqual(r.code, 0);
    assert.equal(r.signal, null);
    assert.match(r.stderr, /dns\.udpSize/);
    assert.ok(r.stderr.includes(file), `the message names the file:\n${r.stderr}`);
  });

  it('names an unknown field from a JSON file', async () => {
    const file = join(dir, 'unknown.json');
    writeFileSync(
      file,
      JSON.stringify({
        zone: { name: 'cdn.example.com' },
        dns: { listen: ['127.0.0.1:0'], colour: 'blue' },
      }),
    );
    const r = await runCli(['serve', '--config', file], env());
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /dns\.colour/);
    assert.match(r.stderr, /not a known field/);
  });

  it('names the field a bad environment override sets (DNS_LISTEN=bad → dns.listen[0])', async () => {
    const r = await runCli(['serve'], { ...env(), DNS_LISTEN: 'bad' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /dns\.listen\[0\]/);
  });

  it('names the file when it is not valid YAML', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'dns: [unclosed\n');
    const r = await runCli(['serve', '--config', file], env());
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not valid YAML/);
  });
});

describe('cirrus serve, token create and zone export on one state file', () => {
  let dir: string;
  let env: Record<string, string>;
  let dnsPort: number;
  let apiUrl: string;
  let server: ChildProcess | undefined;
  let serverExit: Promise<Exit> | undefined;
  let token = '';
  let firstSerial = 0;
  let changedSerial = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cirrus-cli-serve-'));
    dnsPort = await freePort();
    const apiPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    env = {
      SEED_DIR: 'zones',
      STATE_FILE: join(dir, 'state.json'),
      DNS_LISTEN: `127.0.0.1:${dnsPort}`,
      API_LISTEN: `127.0.0.1:${apiPort}`,
    };
  });
  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await serverExit?.catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `cirrus serve` and waits for /healthz. */
  async function startServer(): Promise<void> {
    server = spawnCli(['serve'], env);
    serverExit = collect(server, 60_000);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (server.exitCode !== null) {
        const e: Exit = await serverExit;
        assert.fail(`cirrus serve exited with ${e.code}:\n${e.stderr}`);
      }
      try {
        if ((await fetch(`${apiUrl}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) assert.fail('cirrus serve did not answer /healthz within 20 s');
      await sleep(100);
    }
  }

  async function stopServer(): Promise<Exit> {
    assert.ok(server && serverExit);
    assert.ok(server.kill('SIGTERM'));
    const e = await serverExit;
    server = undefined;
    serverExit = undefined;
    return e;
  }

  const healthSerial = async () =>
    ((await (await fetch(`${apiUrl}/healthz`)).json()) as { serial: number }).serial;
  const call = (method: string, path: string, body?: unknown) =>
    fetch(apiUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const soaSerial = async () => {
    const r = await dig(dnsPort, [ZONE, 'SOA']);
    const soa = r.answer.find((l) => / SOA /.test(l));
    assert.ok(soa, r.raw);
    return Number(soa.split(' ')[6]);
  };

  it('serves the seeded zone over DNS', async () => {
    await startServer();
    const r = await dig(dnsPort, [SEEDED, 'A']);
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.ok(r.flags.includes('aa'));
    const addr = r.answer[0]?.split(' ')[4];
    assert.ok(addr && SEED_EDGES.has(addr), `answer ${r.answer.join(' | ')} is not a seeded edge`);
    const statik = await dig(dnsPort, [`status.${ZONE}`, 'A']);
    assert.deepEqual(statik.answer, [`status.${ZONE}. 300 IN A 198.51.100.10`]);
    firstSerial = await soaSerial();
    assert.equal(await healthSerial(), firstSerial);
  });

  it('accepts a token made by `cirrus token create` in another process at once', async () => {
    assert.equal((await fetch(`${apiUrl}/api/v1/domains`)).status, 401);
    const r = await runCli(['token', 'create', '--name', 'ops'], {
      STATE_FILE: env.STATE_FILE as string,
    });
    assert.equal(r.code, 0, r.stderr);
    token = r.stdout.trim();
    assert.match(token, /^cirrus_\S+$/);
    assert.match(r.stderr, /\(ops\) created/);
    // The very next request, with no wait: README's "Five minutes with it" does exactly this.
    const status = (await call('GET', '/api/v1/domains')).status;
    assert.equal(status, 200, 'the running server refused the token it was just given');
    const domains = (await (await call('GET', '/api/v1/domains')).json()) as Array<{
      domain: string;
    }>;
    assert.deepEqual(
      domains.map((d) => d.domain),
      ['static.example.org'],
    );
  });

  it('`cirrus zone export` prints the zone starting with the SOA at the live serial', async () => {
    const r = await runCli(['zone', 'export'], { STATE_FILE: env.STATE_FILE as string });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith(';') && !l.startsWith('$'));
    const soa = (lines[0] ?? '').split(/\s+/);
    assert.deepEqual(soa.slice(0, 4), [`${ZONE}.`, '3600', 'IN', 'SOA'], r.stdout);
    assert.equal(Number(soa[6]), firstSerial, 'export and server agree on the serial');
    assert.ok(
      lines.some((l) => l.startsWith(`${SEEDED}.`)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => /^status\.cdn\.example\.net\.\s+300\s+IN\s+A\s+198\.51\.100\.10$/.test(l)),
      r.stdout,
    );
    assert.equal(await healthSerial(), firstSerial, 'exporting changes nothing');
  });

  it('a change raises the serial; SIGTERM stops the server with exit code 0', async () => {
    assert.equal((await call('DELETE', '/api/v1/domains/static.example.org')).status, 204);
    const created = await call('POST', '/api/v1/domains', {
      domain: 'cli.example.com',
      origins: [{ address: '203.0.113.5' }],
    });
    assert.equal(created.status, 201);
    changedSerial = await soaSerial();
    assert.ok(serialGt(changedSerial, firstSerial), `${changedSerial} is not after ${firstSerial}`);
    const e = await stopServer();
    assert.equal(e.signal, null, e.stderr);
    assert.equal(e.code, 0, e.stderr);
    await assert.rejects(fetch(`${apiUrl}/healthz`), 'the API port is closed');
  });

  it('a restart keeps the state (no re-seed) and the serial; later changes only raise it', async () => {
    await startServer();
    assert.equal(await soaSerial(), changedSerial, 'same content, same serial across a restart');
    assert.equal(await healthSerial(), changedSerial);
    const domains = (await (await call('GET', '/api/v1/domains')).json()) as Array<{
      domain: string;
    }>;
    assert.deepEqual(
      domains.map((d) => d.domain),
      ['cli.example.com'],
      'the seed must not come back on a non-empty store',
    );
    assert.equal((await dig(dnsPort, [SEEDED, 'A'])).status, 'NXDOMAIN');
    assert.equal((await dig(dnsPort, [`cli-example-com.${ZONE}`, 'A'])).status, 'NOERROR');

    const patched = await call('PATCH', '/api/v1/domains/cli.example.com', { ttl: 42 });
    assert.equal(patched.status, 200);
    const after1 = await soaSerial();
    assert.ok(serialGt(after1, changedSerial), `${after1} is not after ${changedSerial}`);
    const nodes = await call('PATCH', '/api/v1/nodes/fra-1', { weight: 7 });
    assert.equal(nodes.status, 200);
    const after2 = await soaSerial();
    assert.ok(serialGt(after2, after1), `${after2} is not after ${after1}`);

    const e = await stopServer();
    assert.equal(e.code, 0, e.stderr);
  });
});
